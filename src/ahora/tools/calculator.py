"""The ``calculator`` tool: arithmetic and everyday math, evaluated without ``eval``.

Why it is shaped like this: ``eval`` and ``numexpr.evaluate`` both gave remote code
execution through LangChain's old math chain (CVE-2023-29374, CVE-2023-39631), and
simpleeval has had sandbox escapes. Here text goes through three gates, each of which
bounds its work before doing it:

1. ``_rewrite``: at most 500 characters from a short allow-list (ASCII letters, digits,
   ``+-*/%^().,!_`` and spaces; ``×``, ``÷``, ``−`` and ``π`` are mapped to ASCII; every
   other character, non-ASCII digits included, is refused by name), at most 30 nested
   parentheses, no names starting with ``_``. It rewrites what people and models write
   into Python syntax: ``^`` for power, ``15%`` / ``of``, ``5!``, ``1,000``.
2. ``ast.parse(..., mode="eval")`` and ``check_tree``: an allow-list over the tree:
   int and float constants, ``+ - * / // % **``, unary ``+``/``-``, calls of the named
   functions below with positional arguments, and the constants ``pi``, ``e``, ``tau``.
   At most 300 nodes and 100 levels. Anything else is refused with what it is.
3. ``_Evaluator``: walks the checked tree with Python numbers and refuses, before
   computing, powers and products whose result would pass 10,000 digits, ``factorial``
   above 1000 and ``round`` to more than 100 places. Floats must stay finite.

Every failure becomes a short "Error: ..." string; nothing raises out of the tool.
"""

from __future__ import annotations

import ast
import decimal
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from langchain_core.tools import tool

from ahora.errors import ToolFailure

__all__ = ["calculator", "check_tree", "evaluate", "format_number"]

Number = int | float

MAX_LENGTH = 500
MAX_PAREN_DEPTH = 30
MAX_NODES = 300
MAX_DEPTH = 100
MAX_DIGITS = 10_000  # integers (intermediate or final) must stay below 10**MAX_DIGITS
MAX_SHOWN_DIGITS = 1_000  # longer integers are shown rounded, with their digit count
MAX_FACTORIAL = 1_000
MAX_ROUND_PLACES = 100
SIGNIFICANT = 12  # significant digits shown for floats

_INT_LIMIT = 10**MAX_DIGITS
_SHOWN_LIMIT = 10**MAX_SHOWN_DIGITS
_PERCENT = "_pct"  # made only by _rewrite: user names may not start with "_"

# --- gate 1: characters, tokens, and the notations people write ----------------------

_MAPPED = {"×": "*", "÷": "/", "−": "-", "π": "pi"}
_ALLOWED = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-*/%^().,!_ \t\n\r"
)
_CHAR_HINTS = {
    "[": "square brackets (lists, indexing) are not allowed",
    "]": "square brackets (lists, indexing) are not allowed",
    "{": "braces are not allowed",
    "}": "braces are not allowed",
    "'": "text strings are not allowed",
    '"': "text strings are not allowed",
    "=": "assignment and comparison ('=') are not allowed",
    "<": "comparison and bit shifts ('<') are not allowed",
    ">": "comparison and bit shifts ('>') are not allowed",
    "&": "bitwise operators ('&') are not allowed",
    "|": "bitwise operators ('|') are not allowed",
    "~": "bitwise operators ('~') are not allowed",
    ":": "colons (lambda, slices, ':=') are not allowed",
    ";": "only one expression is allowed (no ';')",
    "@": "'@' is not allowed",
    "#": "comments ('#') are not allowed",
    "\\": "backslashes are not allowed",
}
_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>(?:\d|\.\d)(?:[eE][+-]\d|[\w.])*)"
    r"|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op>\*\*|//|[-+*/%^(),!.])",
    re.ASCII,
)
_FIRST_GROUP = re.compile(r"\d{1,3}")
_NEXT_GROUP = re.compile(r"\d{3}(?:\.\d*)?")
# After a postfix percent comes the end, a closing bracket, a comma, an operator or "of".
_AFTER_PERCENT = frozenset({")", ",", "+", "-", "*", "/", "//", "**"})


@dataclass
class _Tok:
    kind: str  # "number", "name" or "op"
    text: str
    spaced: bool = False  # whitespace before it


def _describe_char(char: str) -> str:
    code = f"U+{ord(char):04X}"
    if not char.isprintable():
        return f"the non-printing character {code} is not allowed"
    if char in _CHAR_HINTS:
        return _CHAR_HINTS[char]
    if unicodedata.category(char) == "Nd":
        return f"the digit '{char}' ({code}) is not allowed: write numbers with ASCII digits 0-9"
    if char.isascii():
        return f"the character '{char}' is not allowed"
    return f"the character '{char}' ({code}) is not allowed: use ASCII digits, letters, + - * / ^"


def _tokenize(text: str) -> list[_Tok]:
    for char in text:
        if char not in _ALLOWED:
            raise ToolFailure(_describe_char(char))
    tokens: list[_Tok] = []
    spaced = False
    depth = 0
    for match in _TOKEN.finditer(text):
        kind, value = match.lastgroup or "", match.group()
        if kind == "space":
            spaced = True
            continue
        if kind == "name":
            if value.startswith("_"):
                raise ToolFailure(f"names starting with '_' are not allowed ({value})")
            value = value.lower()
        elif value == "^":
            value = "**"
        elif value == "(":
            depth += 1
            if depth > MAX_PAREN_DEPTH:
                raise ToolFailure(f"more than {MAX_PAREN_DEPTH} nested parentheses")
        elif value == ")":
            depth -= 1
            if depth < 0:
                raise ToolFailure("unmatched ')'")
        tokens.append(_Tok(kind, value, spaced))
        spaced = False
    if depth > 0:
        raise ToolFailure("'(' was never closed")
    # finditer skips nothing here: every allowed character belongs to some token kind.
    return tokens


def _atom_start(out: list[_Tok]) -> int | None:
    """Where the operand just before a postfix ``%`` or ``!`` starts, if there is one."""
    if not out:
        return None
    last = out[-1]
    if last.kind in ("number", "name"):
        return len(out) - 1
    if last.text != ")":
        return None
    level = 0
    for index in range(len(out) - 1, -1, -1):
        level += {")": 1, "(": -1}.get(out[index].text, 0)
        if level == 0:
            is_call = index > 0 and out[index - 1].kind == "name"
            return index - 1 if is_call else index
    return None


def _wrap(out: list[_Tok], function: str, symbol: str) -> None:
    start = _atom_start(out)
    if start is None:
        raise ToolFailure(f"'{symbol}' must follow a number or a closing parenthesis")
    out[start:start] = [_Tok("name", function), _Tok("op", "(")]
    out.append(_Tok("op", ")"))


def _rewrite(expression: str) -> str:
    """Check the characters and turn calculator notation into Python syntax."""
    for char, ascii_text in _MAPPED.items():
        expression = expression.replace(char, f" {ascii_text} ")
    tokens = _tokenize(expression)
    out: list[_Tok] = []
    parens: list[str] = []  # "call" or "group" for each open parenthesis
    after_percent = False
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        was_percent, after_percent = after_percent, False
        if tok.kind == "number" and "call" not in parens[-1:] and _FIRST_GROUP.fullmatch(tok.text):
            # 1,000,000.5 outside a function call: thousands separators.
            text = tok.text
            while (
                i + 2 < len(tokens)
                and "." not in text
                and tokens[i + 1].text == ","
                and not tokens[i + 1].spaced
                and not tokens[i + 2].spaced
                and tokens[i + 2].kind == "number"
                and _NEXT_GROUP.fullmatch(tokens[i + 2].text)
            ):
                text += tokens[i + 2].text
                i += 2
            out.append(_Tok("number", text))
        elif tok.kind == "name" and tok.text == "of":
            if not was_percent:
                raise ToolFailure("'of' is only understood after a percentage, as in 15% of 80")
            out.append(_Tok("op", "*"))
        elif tok.text == "(":
            parens.append("call" if out and out[-1].kind == "name" else "group")
            out.append(tok)
        elif tok.text == ")":
            parens.pop()
            out.append(tok)
        elif tok.text == "%" and (
            nxt is None or nxt.text in _AFTER_PERCENT or (nxt.kind, nxt.text) == ("name", "of")
        ):
            _wrap(out, _PERCENT, "%")
            after_percent = True
        elif tok.text == "!":
            _wrap(out, "factorial", "!")
        else:
            out.append(tok)
        i += 1
    return " ".join(tok.text for tok in out)


# --- gate 2: the allow-list over the syntax tree ---------------------------------------

_BINARY_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access (x.y) is not allowed",
    ast.Subscript: "indexing and slicing (x[i]) are not allowed",
    ast.Slice: "indexing and slicing (x[i]) are not allowed",
    ast.Lambda: "lambda functions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.FormattedValue: "f-strings are not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.Compare: "comparisons (<, ==, ...) are not allowed",
    ast.BoolOp: "'and' / 'or' are not allowed",
    ast.IfExp: "conditional expressions (x if c else y) are not allowed",
    ast.Tuple: "a comma is only allowed between a function's arguments or in a number like 1,000",
    ast.List: "lists are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Starred: "starred arguments (*x) are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
}
_OPERATOR_SYMBOLS: dict[type[ast.AST], str] = {
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^ (as XOR)",
    ast.MatMult: "@",
    ast.Not: "not",
    ast.Invert: "~",
}


def _check_constant(value: object) -> None:
    if isinstance(value, bool) or value is None or value is Ellipsis:
        raise ToolFailure(f"{value!r} is not a number")
    if isinstance(value, complex):
        raise ToolFailure("complex numbers (like 1j) are not allowed")
    if isinstance(value, str | bytes):
        raise ToolFailure("text strings are not allowed")
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolFailure("a number in the expression is too large for a float")
    if not isinstance(value, int | float):
        raise ToolFailure(f"{type(value).__name__} constants are not allowed")


def _check_call(node: ast.Call) -> None:
    if not isinstance(node.func, ast.Name):
        raise ToolFailure("only named functions can be called, as in sqrt(2)")
    name = node.func.id
    if name not in _FUNCTIONS:
        raise ToolFailure(f"unknown function '{name}'. Available: {', '.join(_PUBLIC_FUNCTIONS)}")
    if node.keywords:
        raise ToolFailure("keyword arguments (name=value) are not allowed")
    if any(isinstance(arg, ast.Starred) for arg in node.args):
        raise ToolFailure("starred arguments (*x) are not allowed")


def check_tree(tree: ast.AST) -> None:
    """Refuse (with ``ToolFailure``) any tree outside the calculator's allow-list.

    Walks iteratively, so a deep tree cannot exhaust the stack before it is refused.
    """
    root = tree.body if isinstance(tree, ast.Expression) else tree
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ToolFailure(f"the expression is too long (more than {MAX_NODES} parts)")
        if depth > MAX_DEPTH:
            raise ToolFailure(f"the expression is nested too deeply (more than {MAX_DEPTH})")
        children: list[ast.expr] = []
        if isinstance(node, ast.Constant):
            _check_constant(node.value)
        elif isinstance(node, ast.Name):
            if node.id in _FUNCTIONS:
                raise ToolFailure(f"'{node.id}' is a function: call it, as in {node.id}(2)")
            if node.id not in _CONSTANTS:
                known = ", ".join(_CONSTANTS)
                raise ToolFailure(f"unknown name '{node.id}'. Known constants: {known}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, _BINARY_OPS):
            children = [node.left, node.right]
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
            children = [node.operand]
        elif isinstance(node, ast.Call):
            _check_call(node)
            children = list(node.args)
        elif isinstance(node, ast.BinOp | ast.UnaryOp):
            symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
            raise ToolFailure(f"the operator {symbol} is not allowed")
        else:
            reason = _REFUSED_NODES.get(type(node))
            raise ToolFailure(reason or f"{type(node).__name__} is not allowed")
        stack.extend((child, depth + 1) for child in children)


# --- gate 3: arithmetic that bounds its work before doing it ---------------------------


def _checked(value: object) -> Number:
    if isinstance(value, int) and not isinstance(value, bool):
        if value >= _INT_LIMIT or -value >= _INT_LIMIT:
            raise ToolFailure(f"the result would have more than {MAX_DIGITS:,} digits")
        return value
    if isinstance(value, float):
        if math.isnan(value):
            raise ToolFailure("the result is not a number")
        if math.isinf(value):
            raise ToolFailure("the result is too large for a float (overflow)")
        return value
    raise ToolFailure("the result is not a real number")


def _mul(a: Number, b: Number) -> Number:
    too_long = _INT_LIMIT.bit_length() + 1
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > too_long:
        raise ToolFailure(f"the result would have more than {MAX_DIGITS:,} digits")
    return _checked(a * b)


def _div(a: Number, b: Number) -> Number:
    if b == 0:
        raise ToolFailure("division by zero")
    if isinstance(a, int) and isinstance(b, int) and a % b == 0:
        return a // b  # exact: 10**30 / 10**10 stays an integer
    return _checked(a / b)


def _floordiv(a: Number, b: Number) -> Number:
    if b == 0:
        raise ToolFailure("division by zero")
    return _checked(a // b)


def _mod(a: Number, b: Number) -> Number:
    if b == 0:
        raise ToolFailure("division by zero (remainder of x % 0)")
    return _checked(a % b)


def _pow(a: Number, b: Number) -> Number:
    if a == 0 and b < 0:
        raise ToolFailure("division by zero (0 to a negative power)")
    if a < 0 and isinstance(b, float) and not b.is_integer():
        raise ToolFailure("a negative number to a fractional power is not a real number")
    if isinstance(a, int) and isinstance(b, int) and b > 1 and abs(a) > 1:
        # |a|**b has about b*log10|a| digits: estimated in floats, never computed.
        digits = b * math.log10(abs(a)) if b.bit_length() < 1000 else math.inf
        if digits > MAX_DIGITS + 1:
            size = f"about {digits:,.0f}" if math.isfinite(digits) else "far too many"
            raise ToolFailure(f"the result would have {size} digits (limit {MAX_DIGITS:,})")
    return _checked(a**b)


def _sqrt(x: Number) -> Number:
    if isinstance(x, int) and x >= 0:
        root = math.isqrt(x)
        if root * root == x:
            return root
    return math.sqrt(x)


def _log(x: Number, base: Number | None = None) -> Number:
    if base is None:
        return math.log(x)
    if base == 1:
        raise ToolFailure("log() base cannot be 1")
    return math.log(x, base)


def _whole(x: Number, what: str) -> int:
    if isinstance(x, float):
        if not x.is_integer():
            raise ToolFailure(f"{what} must be a whole number, got {format_number(x)}")
        return int(x)
    return x


def _factorial(x: Number) -> Number:
    n = _whole(x, "factorial's argument")
    if n < 0:
        raise ToolFailure("factorial is only defined for whole numbers >= 0")
    if n > MAX_FACTORIAL:
        raise ToolFailure(f"factorial is limited to arguments up to {MAX_FACTORIAL}")
    return math.factorial(n)


def _round(x: Number, places: Number | None = None) -> Number:
    """Halves away from zero, as people round: round(2.5) is 3, round(2.675, 2) is 2.68."""
    n = 0 if places is None else _whole(places, "round's number of places")
    if abs(n) > MAX_ROUND_PLACES:
        raise ToolFailure(f"round() takes at most {MAX_ROUND_PLACES} places")
    # repr() is the shortest text that reads back as x: the number the person sees.
    exact = decimal.Decimal(x) if isinstance(x, int) else decimal.Decimal(repr(x))
    with decimal.localcontext(_ROUNDING):
        rounded = exact.quantize(decimal.Decimal(1).scaleb(-n), rounding=decimal.ROUND_HALF_UP)
    return int(rounded) if isinstance(x, int) or places is None else float(rounded)


_ROUNDING = decimal.Context(prec=MAX_DIGITS + 400, Emax=MAX_DIGITS + 400, Emin=-(MAX_DIGITS + 400))


def _min(*args: Number) -> Number:
    return min(args)


def _max(*args: Number) -> Number:
    return max(args)


@dataclass(frozen=True)
class _Function:
    impl: Callable[..., Number]
    min_args: int = 1
    max_args: int | None = 1  # None: any number


_FUNCTIONS: dict[str, _Function] = {
    "sqrt": _Function(_sqrt),
    "log": _Function(_log, 1, 2),
    "ln": _Function(math.log),
    "log10": _Function(math.log10),
    "log2": _Function(math.log2),
    "exp": _Function(math.exp),
    "sin": _Function(math.sin),
    "cos": _Function(math.cos),
    "tan": _Function(math.tan),
    "asin": _Function(math.asin),
    "acos": _Function(math.acos),
    "atan": _Function(math.atan),
    "atan2": _Function(math.atan2, 2, 2),
    "degrees": _Function(math.degrees),
    "radians": _Function(math.radians),
    "factorial": _Function(_factorial),
    "abs": _Function(abs),
    "round": _Function(_round, 1, 2),
    "floor": _Function(math.floor),
    "ceil": _Function(math.ceil),
    "min": _Function(_min, 1, None),
    "max": _Function(_max, 1, None),
    "hypot": _Function(math.hypot, 1, None),
    "pow": _Function(_pow, 2, 2),
    _PERCENT: _Function(lambda x: _div(x, 100)),
}
_PUBLIC_FUNCTIONS = [name for name in _FUNCTIONS if not name.startswith("_")]
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _call_text(name: str, args: list[Number]) -> str:
    text = f"{name}({', '.join(format_number(arg) for arg in args)})"
    return text if len(text) <= 60 else f"{name}(...)"


def _call(name: str, args: list[Number]) -> Number:
    function = _FUNCTIONS[name]
    low, high = function.min_args, function.max_args
    if len(args) < low or (high is not None and len(args) > high):
        wanted = f"{low}" if low == high else f"{low} or {high}" if high else f"at least {low}"
        hint = " (inside a call, commas separate arguments: write 1000, not 1,000)"
        too_many = high is not None and len(args) > high
        raise ToolFailure(
            f"{name}() takes {wanted} argument(s), got {len(args)}{hint if too_many else ''}"
        )
    try:
        return _checked(function.impl(*args))
    except ValueError as exc:
        raise ToolFailure(f"{_call_text(name, args)} is undefined (math domain error)") from exc
    except OverflowError as exc:
        text = _call_text(name, args)
        raise ToolFailure(f"{text} overflows (a number is too large for a float)") from exc


def _is_percent(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == _PERCENT
        and len(node.args) == 1
    )


class _Evaluator:
    """Computes a tree that ``check_tree`` accepted."""

    def value(self, node: ast.expr) -> Number:
        if isinstance(node, ast.Constant):
            return _checked(node.value)
        if isinstance(node, ast.Name):
            return _CONSTANTS[node.id]
        if isinstance(node, ast.UnaryOp):
            value = self.value(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return _call(node.func.id, [self.value(arg) for arg in node.args])
        raise ToolFailure(f"{type(node).__name__} is not allowed")

    def binop(self, node: ast.BinOp) -> Number:
        op, left, right = node.op, node.left, node.right
        if isinstance(op, ast.Add | ast.Sub) and _is_percent(right) and not _is_percent(left):
            # "200 + 10%" is 200 plus 10% of 200.
            assert isinstance(right, ast.Call)
            base = self.value(left)
            delta = _div(_mul(base, self.value(right.args[0])), 100)
            return _checked(base + delta if isinstance(op, ast.Add) else base - delta)
        if isinstance(op, ast.Mult) and (_is_percent(left) or _is_percent(right)):
            # "15% of 80", "80 * 15%": exact when the numbers allow it.
            pct, other = (left, right) if _is_percent(left) else (right, left)
            assert isinstance(pct, ast.Call)
            return _div(_mul(self.value(other), self.value(pct.args[0])), 100)
        a, b = self.value(left), self.value(right)
        if isinstance(op, ast.Add):
            return _checked(a + b)
        if isinstance(op, ast.Sub):
            return _checked(a - b)
        if isinstance(op, ast.Mult):
            return _mul(a, b)
        if isinstance(op, ast.Div):
            return _div(a, b)
        if isinstance(op, ast.FloorDiv):
            return _floordiv(a, b)
        if isinstance(op, ast.Mod):
            return _mod(a, b)
        if isinstance(op, ast.Pow):
            return _pow(a, b)
        raise ToolFailure(f"the operator {type(op).__name__} is not allowed")


def evaluate(expression: str) -> Number:
    """The value of ``expression``; raises ``ToolFailure`` saying why when there is none."""
    if not isinstance(expression, str):
        raise ToolFailure("the expression must be text")
    if len(expression) > MAX_LENGTH:
        raise ToolFailure(f"the expression is longer than {MAX_LENGTH} characters")
    if not expression.strip():
        raise ToolFailure("the expression is empty")
    source = _rewrite(expression)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        detail = (exc.msg or "invalid syntax").split(". Perhaps")[0]
        raise ToolFailure(f"could not read the expression ({detail})") from None
    check_tree(tree)
    return _Evaluator().value(tree.body)


# --- output ---------------------------------------------------------------------------


def _digit_count(n: int) -> int:
    digits = int(math.log10(n)) + 1
    if n < 10 ** (digits - 1):
        digits -= 1
    elif n >= 10**digits:
        digits += 1
    return digits


def format_number(value: Number) -> str:
    """Integers exactly (up to 1,000 digits), floats with up to 12 significant digits."""
    if isinstance(value, int):
        if -_SHOWN_LIMIT < value < _SHOWN_LIMIT:
            return str(value)
        digits = _digit_count(abs(value))
        lead = str(abs(value) // 10 ** (digits - SIGNIFICANT))
        mantissa = f"{lead[0]}.{lead[1:]}".rstrip("0").rstrip(".")
        sign = "-" if value < 0 else ""
        return f"{sign}{mantissa}e+{digits - 1} ({digits:,} digits)"
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 10**SIGNIFICANT:
        return str(int(value))
    return f"{value:.{SIGNIFICANT}g}"


def _answer(expression: str) -> str:
    try:
        value = evaluate(expression)
    except ToolFailure as exc:
        return f"Error: {exc}"
    except ZeroDivisionError:
        return "Error: division by zero"
    except OverflowError:
        return "Error: a number is too large for a float (overflow)"
    except (RecursionError, MemoryError):
        return "Error: the expression is too complex"
    except Exception as exc:  # the tool must never raise; report what kind of failure it was
        return f"Error: could not evaluate the expression ({type(exc).__name__})"
    shown = " ".join(expression.split())
    is_rounded = isinstance(value, int) and not -_SHOWN_LIMIT < value < _SHOWN_LIMIT
    return f"{shown} {'≈' if is_rounded else '='} {format_number(value)}"


@tool("calculator", parse_docstring=True)
def calculator(expression: str) -> str:
    """Evaluate a math expression exactly and safely, e.g. "2^10" gives "2^10 = 1024".

    Supports + - * / // % ** (or ^ for power), parentheses, scientific notation (1.5e3),
    the constants pi, e, tau and the functions sqrt, log (natural; log(x, base)), ln,
    log10, log2, exp, sin, cos, tan, asin, acos, atan, atan2 (radians), degrees, radians,
    factorial (or n!), abs, round (halves away from zero), floor, ceil, min, max, hypot,
    pow. Integers are exact; other results show 12 significant digits.

    Percentages: "15% of 80" and "80 * 15%" give 12; "200 + 10%" gives 220 and
    "200 - 10%" gives 180 (adds or removes 10% of 200); "15%" alone is 0.15. A % followed
    by a number or "(" is the remainder: "10 % 3" gives 1. Commas group thousands outside
    function calls ("1,000,000"); inside a call they separate arguments: max(1000, 2).

    Args:
        expression: The math expression, e.g. "sqrt(2) * 3^2" or "15% of 80".
    """
    return _answer(expression)
