"""Hostile input for the calculator: none of it may run code, touch files, hang or raise.

``HOSTILE`` is also read by benchmarks/bench_calculator.py, which prints the real
per-string timings; the bound asserted here is deliberately generous (1 s) so the test
stays reliable on a busy shared machine. ``{sentinel}`` in a string is replaced by a
file path that any successful escape would create.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from ahora.errors import ToolFailure
from ahora.tools.calculator import calculator, check_tree

_TOUCH = "__import__('os').system('touch {sentinel}')"

HOSTILE: list[str] = [
    # attribute and dunder access
    "().__class__.__bases__[0].__subclasses__()",
    "(1).__class__",
    "(1).real",
    "1 .real",
    "sqrt.__globals__",
    "abs.__self__",
    "pi.__class__.__mro__",
    # builtins and code execution
    _TOUCH,
    "__import__",
    "__builtins__",
    "open('{sentinel}', 'w').write('x')",
    "eval('1+1')",
    'exec(\'open("{sentinel}", "w")\')',
    "compile('1', '', 'eval')",
    "globals()",
    "locals()",
    "vars()",
    "getattr(1, 'real')",
    "breakpoint()",
    "input()",
    "print(1)",
    "sum(range(10**10))",
    "type(1)",
    # Python syntax beyond arithmetic
    "(lambda: 1)()",
    "lambda x: x",
    "[x for x in range(10**9)]",
    "(x for x in (1, 2))",
    "{x: x for x in (1,)}",
    "{1, 2}",
    "f'{1+1}'",
    "(y := 5)",
    "[1, 2, 3][0]",
    "'abc'[0]",
    "b'a'",
    "...",
    "None",
    "True + 1",
    "1 if 1 else 2",
    "1 < 2",
    "1 == 1",
    "1 and 2",
    "not 1",
    "~1",
    "2 & 3",
    "2 | 3",
    "1 @ 1",
    "1j * 1j",
    "sqrt(1)(2)",
    "max(1, key=abs)",
    "max(*(1, 2))",
    "max(**{})",
    "1; " + _TOUCH,
    "import os",
    "1 # " + _TOUCH,
    "1\n" + _TOUCH,
    "\\\n" + _TOUCH,
    # bit shifts
    "1 << 10**9",
    "1 >> 1",
    # huge work
    "9**9**9**9",
    "10**10**10",
    "2**2**2**2**2",
    "pow(10, 10**10)",
    "factorial(10**9)",
    "factorial(factorial(20))",
    "170!!",
    "(10**5000) * (10**5000) * (10**5000)",
    "(10**9999 + 1) ** 2",
    "round(1, -10**18)",
    "10**400 / 3",
    "hypot(10**400, 1)",
    "exp(10**6)",
    "1e400 - 1e400",
    # nesting and length
    "(" * 1000 + "1" + ")" * 1000,
    "(" * 200 + "1" + ")" * 200,
    "-" * 450 + "1",
    "1+" * 250 + "1",
    "1" * 100_000,
    "sqrt(" * 40 + "1" + ")" * 40,
    # non-ASCII digits, lookalikes, control characters
    "٣ + ٣",
    "３ * ３",
    "１e１0０0",
    "ｅｖａｌ('1')",
    "ｐｉ",
    "рі * 2",  # Cyrillic
    "𝟗**𝟗**𝟗",  # mathematical bold digits
    "1\x00 + 1",
    "1 \u202e+ 1",  # right-to-left override
    "1\u200b+1",  # zero-width space
    "\ud800",  # lone surrogate
]


@pytest.fixture
def sentinel(tmp_path: Path) -> Path:
    return tmp_path / "escaped"


def test_corpus_is_large_enough() -> None:
    assert len(HOSTILE) >= 40
    assert len(set(HOSTILE)) == len(HOSTILE)


@pytest.mark.parametrize("attack", HOSTILE, ids=[f"{i:02d}" for i in range(len(HOSTILE))])
def test_refused_quickly_without_side_effects(attack: str, sentinel: Path) -> None:
    text = attack.replace("{sentinel}", str(sentinel))
    started = time.perf_counter()
    result = calculator.invoke({"expression": text})
    elapsed = time.perf_counter() - started
    assert isinstance(result, str)
    assert result.startswith("Error: "), result
    assert len(result) < 300
    assert not sentinel.exists()
    assert elapsed < 1.0, f"{elapsed * 1000:.1f} ms"


# Strings that are valid Python: the tree allow-list alone must refuse them, so the
# character filter in front of it is a second wall, not the only one.
CODE_ATTACKS = [
    "().__class__.__bases__[0].__subclasses__()",
    "(1).real",
    _TOUCH,
    "__import__",
    "open('{sentinel}', 'w')",
    "eval('1+1')",
    "exec('1')",
    "globals()",
    "getattr(1, 'real')",
    "(lambda: 1)()",
    "[x for x in (1,)]",
    "(x for x in (1,))",
    "{x: 1 for x in (1,)}",
    "f'{1}'",
    "(y := 5)",
    "[1][0]",
    "'a'",
    "b'a'",
    "...",
    "None",
    "True",
    "1 if 1 else 2",
    "1 < 2",
    "1 and 2",
    "not 1",
    "~1",
    "1 << 10**9",
    "1 >> 1",
    "2 & 3",
    "2 | 3",
    "2 ^ 3",
    "1 @ 1",
    "1j",
    "sqrt(1)(2)",
    "max(1, key=abs)",
    "max(*(1, 2))",
    "max(**{})",
    "(1, 2)",
    "{1}",
    "ｅｖａｌ('1')",  # Python folds this to the name eval (NFKC)
]


@pytest.mark.parametrize("attack", CODE_ATTACKS)
def test_tree_allow_list_refuses_on_its_own(attack: str) -> None:
    tree = ast.parse(attack, mode="eval")
    with pytest.raises(ToolFailure):
        check_tree(tree)


def test_tree_allow_list_bounds_size_and_depth() -> None:
    with pytest.raises(ToolFailure, match="nested too deeply"):
        check_tree(ast.parse("-" * 150 + "1", mode="eval"))
    with pytest.raises(ToolFailure, match="too long"):
        check_tree(ast.parse("max(" + ",".join(["1"] * 400) + ")", mode="eval"))
    check_tree(ast.parse("sqrt(2) * -pi ** 2 // 3 % 4 - 5 / 6", mode="eval"))
