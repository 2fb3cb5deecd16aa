"""How strong are the tests? Plant small bugs one at a time and count the ones they catch.

Run from the repository root (not part of CI; it shares the machine, so be nice)::

    nice -n 19 python benchmarks/mutation.py                 # every target, every mutant
    nice -n 19 python benchmarks/mutation.py --limit 20      # at most 20 mutants a module
    nice -n 19 python benchmarks/mutation.py netguard calculator   # some modules only
    python benchmarks/mutation.py --list budget             # show the mutants, run nothing

A small AST mutator of our own rather than mutmut or cosmic-ray: both rewrite the
whole tree per mutant or need a session database, and neither makes it cheap to run
only the test files that matter for one module on two shared cores. Here the parent
process imports the heavy libraries (LangChain, LangGraph, pytest) once; each mutant
is written into a scratch copy of ``src/`` and tested in a forked child that runs only
the test files mapped to its module (``TARGETS``), stopping at the first failure.

Mutations are the bugs people actually write: a flipped comparison, ``and``/``or``
swapped, a dropped condition or ``not``, an off-by-one constant, ``True``/``False``
swapped, ``+``/``-`` swapped, a deleted call statement, a ``raise`` turned into
``pass`` (a swallowed exception), an ``except`` clause that re-raises (an error path
nobody tests), a timeout twenty times too long. Docstrings, annotations and ``__all__`` are left
alone. A mutant is *killed* when its tests fail (or run past the time limit, which
counts as killed and is shown as such), and *survives* when they pass.

Survivors that cannot be told apart from the original (equivalent mutants) are listed
in ``EQUIVALENT`` with one line saying why; they are left out of the score.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Module (glob under src/ahora) -> the test files that should catch a bug in it, most
# specific first (the run stops at the first failure). Globs let a module become a
# package (thread storage is being split) without editing this table.
TARGETS: dict[str, list[str]] = {
    "middleware/budget.py": [
        "tests/middleware/test_budget.py",
        "tests/test_cost_budget.py",
        "tests/middleware/test_loop_guard.py",  # the stale-step and repeated-call limits
    ],
    "middleware/combined.py": ["tests/middleware/test_combined.py", "tests/test_agent_loop.py"],
    "middleware/dangling_calls.py": [
        "tests/middleware/test_dangling_calls.py",
        "tests/cli/test_threads_store.py",
    ],
    "middleware/date_prompt.py": ["tests/test_prompt.py", "tests/middleware/test_date_prompt.py"],
    "middleware/empty_reply.py": [
        "tests/middleware/test_empty_reply.py",
        "tests/test_agent_loop.py",
    ],
    "middleware/invalid_tool_calls.py": [
        "tests/middleware/test_invalid_tool_calls.py",
        "tests/test_openai_server.py",
    ],
    "middleware/loop_guard.py": [
        "tests/middleware/test_loop_guard.py",
        "tests/middleware/test_loop_guard.py",
    ],
    "middleware/model_fallback.py": [
        "tests/middleware/test_model_fallback.py",
        "tests/middleware/test_model_fallback.py",
    ],
    "middleware/tool_errors.py": [
        "tests/middleware/test_tool_errors.py",
        "tests/test_agent_loop.py",
    ],
    "middleware/tool_output.py": [
        "tests/middleware/test_tool_output.py",
        "tests/middleware/test_tool_output.py",
        "tests/test_prompt_injection.py",
    ],
    "middleware/tool_timeout.py": [
        "tests/middleware/test_tool_timeout.py",
    ],
    "middleware/approvals.py": ["tests/middleware/test_approvals.py"],
    "middleware/deadline.py": ["tests/middleware/test_deadline.py"],
    "daemon_call.py": [
        "tests/test_daemon_call.py",
        "tests/middleware/test_tool_timeout.py",
        "tests/middleware/test_deadline.py",
    ],
    "netguard.py": ["tests/test_netguard.py"],
    "tools/calculator.py": [
        "tests/tools/test_calculator.py",
        "tests/tools/test_calculator_hostile.py",
    ],
    "export.py": [
        "tests/test_export.py",
        "tests/test_secrets.py",
        "tests/test_export_turns.py",
        "tests/test_export_offered.py",
    ],
    "offered.py": ["tests/test_export_offered.py"],
    "middleware/offered_tools.py": ["tests/test_export_offered.py"],
    "events.py": ["tests/test_events.py", "tests/test_agent_loop.py", "tests/cli/test_render.py"],
    # The conversation format (run_stats, this_run, markers) once it leaves budget.py.
    "messages.py": [
        "tests/middleware/test_budget.py",
        "tests/middleware/test_loop_guard.py",
        "tests/test_events.py",
        "tests/test_export.py",
        "tests/test_export_turns.py",  # answered_calls
    ],
    "threads.py": [
        "tests/threads/test_thread_index.py",
        "tests/cli/test_threads_store.py",
        "tests/threads/test_store.py",
    ],
    "threads/*.py": [
        "tests/threads/test_thread_index.py",
        "tests/threads/test_store.py",
        "tests/threads/test_one_writer.py",
        "tests/cli/test_threads_store.py",
    ],
}

# Equivalent mutants, keyed "module | line as written | mutation": the reason they
# cannot be killed. Keyed by the line's text, not its number, so edits elsewhere in
# the file do not invalidate the list.
_NO_INIT = "AgentMiddleware defines no __init__: super().__init__() is object's, a no-op"
_IDS_SET = "tool calls always carry an id here (providers and the invalid-call repair set one)"
_ARGS_SET = "a LangChain ToolCall always carries an args dict, so `or {}` never applies"
_LAST_TURN = (
    "the call being run is always in the last AI message: the scan from the end finds it "
    "at once, so where the scan would stop, or its stride, never matters"
)
_USAGE_KEYS = "LangChain's UsageMetadata always has input_tokens and output_tokens"
_REASON_GIVEN = "without_tool_calls is only ever called with a non-empty reason"
_MUL_GUARD = (
    "a guard that spares computing a product _checked() refuses anyway, with the same "
    "message: it changes time, not the answer"
)
EQUIVALENT: dict[str, str] = {
    "middleware/budget.py | super().__init__() | call statement deleted": _NO_INIT,
    "middleware/combined.py | super().__init__() | call statement deleted": _NO_INIT,
    "middleware/date_prompt.py | super().__init__() | call statement deleted": _NO_INIT,
    "middleware/model_fallback.py | super().__init__() | call statement deleted": _NO_INIT,
    "middleware/tool_output.py | super().__init__() | call statement deleted": _NO_INIT,
    "middleware/tool_timeout.py | super().__init__() | call statement deleted": _NO_INIT,
    'middleware/tool_errors.py | tool_call_id=request.tool_call["id"] or "", '
    "| or: operand 2 dropped": _IDS_SET,
    'middleware/dangling_calls.py | tool_call_id=call["id"] or "", '
    "| or: operand 2 dropped": _IDS_SET,
    "middleware/empty_reply.py | return bool(ai) and all(not m.tool_calls and not m.text.strip() "
    "for m in ai) | and: operand 1 dropped #2": "a model response always holds one AIMessage",
    'middleware/invalid_tool_calls.py | tool_call_id=call["id"] or "", '
    "| or: operand 2 dropped": _IDS_SET,
    'middleware/loop_guard.py | tool_call_id=call["id"] or "", | or: operand 2 dropped': _IDS_SET,
    'middleware/invalid_tool_calls.py | args = call.get("args") or {} | or: operand 2 dropped': (
        _ARGS_SET
    ),
    'middleware/loop_guard.py | return bool(a["name"] == b["name"] and (a.get("args") or {}) == '
    '(b.get("args") or {})) | or: operand 2 dropped': _ARGS_SET,
    'middleware/loop_guard.py | return bool(a["name"] == b["name"] and (a.get("args") or {}) == '
    '(b.get("args") or {})) | or: operand 2 dropped #2': _ARGS_SET,
    'middleware/invalid_tool_calls.py | "args": {MARKER: call.get("args") or "", "error": '
    'call.get("error") or ""}, | or: operand 2 dropped #2': (
        "the parser's error text is kept in the repaired call's args but never shown or exported"
    ),
    'middleware/loop_guard.py | messages = (request.state or {}).get("messages", []) if '
    "isinstance(request.state, dict) else [] | or: operand 2 dropped": (
        "guarded by isinstance(request.state, dict): the dict is never None there"
    ),
    "middleware/loop_guard.py | (i for i in range(len(turns) - 1, -1, -1) if _index(turns[i], "
    'call.get("id")) is not None), | 1 -> 2 #2': _LAST_TURN,
    "middleware/loop_guard.py | (i for i in range(len(turns) - 1, -1, -1) if _index(turns[i], "
    'call.get("id")) is not None), | 1 -> 2 #3': _LAST_TURN,
    "middleware/budget.py | for i in range(len(messages) - 1, -1, -1): | 1 -> 2 #2": (
        "the scan ends at the first message either way when no user message is found"
    ),
    'middleware/budget.py | usage.get("input_tokens", 0) + usage.get("output_tokens", 0) '
    "| 0 -> 1": _USAGE_KEYS,
    'middleware/budget.py | usage.get("input_tokens", 0) + usage.get("output_tokens", 0) '
    "| 0 -> 1 #2": _USAGE_KEYS,
    'middleware/budget.py | model, usage.get("input_tokens", 0), usage.get("output_tokens", 0), '
    "prices | 0 -> 1": _USAGE_KEYS,
    'middleware/budget.py | model, usage.get("input_tokens", 0), usage.get("output_tokens", 0), '
    "prices | 0 -> 1 #2": _USAGE_KEYS,
    "middleware/budget.py | answer.response_metadata = {**answer.response_metadata, "
    "STOPPED_EARLY: reason or True} | True -> False": _REASON_GIVEN,
    "middleware/budget.py | answer.response_metadata = {**answer.response_metadata, "
    "STOPPED_EARLY: reason or True} | or: operand 2 dropped": _REASON_GIVEN,
    "middleware/budget.py | except RuntimeError: | except clause re-raises": (
        "limits are checked inside the graph, where get_config() always has a config"
    ),
    "middleware/budget.py | if deadline is not None and time.time() >= deadline: | >= -> >": (
        "the clock landing exactly on the deadline's float is not observable"
    ),
    "middleware/budget.py | kwargs = {k: v for k, v in message.additional_kwargs.items() if k "
    '!= "tool_calls"} | != -> ==': (
        "LangChain 1.x clients keep no raw tool_calls in additional_kwargs (checked with the "
        "real OpenAI client in test_budgets), and the other kwargs carry nothing ahora reads"
    ),
    "tools/calculator.py | _ROUNDING = decimal.Context(prec=MAX_DIGITS + 400, Emax=MAX_DIGITS + "
    "400, Emin=-(MAX_DIGITS + 400)) | 400 -> 401 #2": (
        "headroom: no value within the digit limit comes near the exponent bound"
    ),
    "threads.py | found = self.list(limit=1) | 1 -> 2": "the first of two is the first of one",
    "middleware/tool_output.py | parts.append(block) | call statement deleted": (
        "LangGraph's ToolNode JSON-encodes a content list unless every item is a typed block, "
        "so a bare string never reaches content_text inside a list"
    ),
    "middleware/budget.py | stale = 0 if step_new else stale + 1 | 0 -> 1 #2": (
        "after a step with news, 1 instead of 0 is still below STALE_STEPS (3)"
    ),
    "netguard.py | if isinstance(addr, ipaddress.IPv4Address) and addr in _CGNAT: "
    "| and: operand 1 dropped": "an IPv6 address is never in an IPv4 network: `in` says False",
    'export.py | "arguments": json.dumps(c.get("args") or {}, ensure_ascii=False), '
    "| or: operand 2 dropped": _ARGS_SET,
    "export.py | with checkpointer.cursor(transaction=False) as cur: | False -> True": (
        "a read-only query: committing after it changes nothing"
    ),
    'export.py | if isinstance(t, Mapping) and t.get("type") == "function" and "function" in t: '
    "| and: operand 3 dropped": (
        "a dict without 'function' fails either way: convert_to_openai_tool leaves the flat "
        "(Responses API) form flat, so export cannot take such dicts (a limit, not a test gap)"
    ),
    "tools/calculator.py | if isinstance(a, int) and isinstance(b, int) and a.bit_length() + "
    "b.bit_length() > too_long: | + -> -": _MUL_GUARD,
    "tools/calculator.py | if isinstance(a, int) and isinstance(b, int) and a.bit_length() + "
    "b.bit_length() > too_long: | > -> >=": _MUL_GUARD,
    'events.py | usage.get("input_tokens", 0), usage.get("output_tokens", 0) | 0 -> 1': _USAGE_KEYS,
    'events.py | usage.get("input_tokens", 0), usage.get("output_tokens", 0) | 0 -> 1 #2': (
        _USAGE_KEYS
    ),
    "events.py | elif isinstance(message, ToolMessage) and isinstance(message.artifact, dict): "
    "| and: operand 1 dropped": "after the user's last message there are only AI and tool messages",
    "middleware/combined.py | if m is not None and wrap_only(m): | and: operand 1 dropped": (
        "wrap_only(None) is False anyway: None has no state_schema"
    ),
}


@dataclass(frozen=True)
class Mutant:
    module: str  # path under src/ahora
    index: int  # the index-th mutation site of the module, in walk order
    line: int
    what: str  # e.g. "< -> <="
    nth: int = 1  # the same mutation of the same text again (a sync/async twin, say)

    def key(self, source_lines: list[str]) -> str:
        again = f" #{self.nth}" if self.nth > 1 else ""
        return f"{self.module} | {source_lines[self.line - 1].strip()} | {self.what}{again}"


_COMPARE_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
}
_SYMBOL = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
}  # fmt: skip


class _Mutator(ast.NodeTransformer):
    """Walks a module; counts mutation sites, and applies the ``target``-th one."""

    def __init__(self, target: int | None = None) -> None:
        self.target = target
        self.sites: list[tuple[int, str]] = []  # (line, description)
        self.applied = False

    def _site(self, node: ast.AST, what: str) -> bool:
        """Registers a site; True when it is the one to apply."""
        self.sites.append((getattr(node, "lineno", 0), what))
        hit = len(self.sites) - 1 == self.target
        self.applied |= hit
        return hit

    # Leave alone what is not behaviour.
    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return self._function(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        node.args = self.visit(node.args)
        node.body = self._body(node.body)
        return node  # decorators and return annotation untouched

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.body = self._body(node.body)
        return node

    def visit_Module(self, node: ast.Module) -> ast.AST:
        node.body = self._body(node.body)
        return node

    def visit_If(self, node: ast.If) -> ast.AST:
        test = node.test
        if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
            return node
        self.generic_visit(node)
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return node
        self.generic_visit(node)
        return node

    def _body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for i, stmt in enumerate(body):
            is_doc = i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            if is_doc or isinstance(stmt, ast.Import | ast.ImportFrom):
                out.append(stmt)
                continue
            is_call = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call | ast.Await)
            if is_call and self._site(stmt, "call statement deleted"):
                out.append(ast.copy_location(ast.Pass(), stmt))
                continue
            if isinstance(stmt, ast.Raise) and self._site(stmt, "raise -> pass"):
                out.append(ast.copy_location(ast.Pass(), stmt))
                continue
            out.append(self.visit(stmt))
        return out

    def generic_visit(self, node: ast.AST) -> ast.AST:
        # Statement lists inside compound statements go through _body too.
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                setattr(node, field, self._body(stmts))
        for field, value in ast.iter_fields(node):
            if field in ("body", "orelse", "finalbody") and isinstance(value, list):
                continue
            if field == "handlers":
                for handler in value:
                    bare = [type(s) for s in handler.body] == [ast.Raise] and not handler.body[
                        0
                    ].exc
                    if not bare and self._site(handler, "except clause re-raises"):
                        handler.body = [ast.copy_location(ast.Raise(), handler)]
                    else:
                        handler.body = self._body(handler.body)
                continue
            if isinstance(value, list):
                visited = [self.visit(v) if isinstance(v, ast.AST) else v for v in value]
                setattr(node, field, visited)
            elif isinstance(value, ast.AST):
                setattr(node, field, self.visit(value))
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        name = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        name = node.func.id if isinstance(node.func, ast.Name) else name
        slots: list[tuple[str, ast.expr]] = [(k.arg or "", k.value) for k in node.keywords]
        if name.endswith("timeout") and node.args:
            slots.insert(0, ("timeout", node.args[0]))
        for arg, value in slots:
            if "timeout" in arg and self._site(node, "timeout x 20"):
                late = ast.BinOp(left=value, op=ast.Mult(), right=ast.Constant(20))
                if node.args and value is node.args[0]:
                    node.args[0] = late
                else:
                    for k in node.keywords:
                        if k.value is value:
                            k.value = late
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            swap = _COMPARE_SWAPS.get(type(op))
            if swap and self._site(node, f"{_SYMBOL[type(op)]} -> {_SYMBOL[swap]}"):
                node.ops[i] = swap()
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        swap = _BINOP_SWAPS.get(type(node.op))
        if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant | ast.JoinedStr):
            return node  # "%" formatting, not arithmetic
        if swap and self._site(node, f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[swap]}"):
            node.op = swap()
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        swap = _BINOP_SWAPS.get(type(node.op))
        if swap and self._site(node, f"{_SYMBOL[type(node.op)]}= -> {_SYMBOL[swap]}="):
            node.op = swap()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        name = "and" if isinstance(node.op, ast.And) else "or"
        other = "or" if name == "and" else "and"
        if self._site(node, f"{name} -> {other}"):
            node.op = ast.Or() if name == "and" else ast.And()
            return node
        for i in range(len(node.values)):
            if self._site(node, f"{name}: operand {i + 1} dropped"):
                rest = node.values[:i] + node.values[i + 1 :]
                return rest[0] if len(rest) == 1 else ast.BoolOp(op=node.op, values=rest)
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._site(node, "not dropped"):
            return node.operand
        negates = isinstance(node.op, ast.USub) and not isinstance(node.operand, ast.Constant)
        if negates and self._site(node, "unary - dropped"):
            return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, bool):
            if self._site(node, f"{value} -> {not value}"):
                return ast.copy_location(ast.Constant(not value), node)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            new = value + 1
            if self._site(node, f"{value!r} -> {new!r}"):
                return ast.copy_location(ast.Constant(new), node)
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return node  # message text: mutating it tests wording, not behaviour


def mutant_source(source: str, index: int) -> str:
    tree = ast.parse(source)
    mutator = _Mutator(target=index)
    mutated = mutator.visit(copy.deepcopy(tree))
    assert mutator.applied, f"no mutation site {index}"
    return ast.unparse(ast.fix_missing_locations(mutated))


def mutants_of(module: str) -> list[Mutant]:
    source = (ROOT / "src/ahora" / module).read_text(encoding="utf-8")
    mutator = _Mutator()
    mutator.visit(ast.parse(source))
    lines = source.splitlines()
    seen: dict[tuple[str, str], int] = {}
    out = []
    for i, (line, what) in enumerate(mutator.sites):
        text = (lines[line - 1].strip(), what)
        seen[text] = seen.get(text, 0) + 1
        out.append(Mutant(module, i, line, what, seen[text]))
    return out


def expand_targets(names: list[str]) -> Iterator[tuple[str, list[str]]]:
    """(module, existing test files) for each target matching ``names`` (all if empty)."""
    src = ROOT / "src/ahora"
    for pattern, tests in TARGETS.items():
        for path in sorted(src.glob(pattern)):
            module = path.relative_to(src).as_posix()
            if path.name == "__init__.py" and module.startswith("middleware/"):
                continue  # re-exports only
            if names and not any(n in module for n in names):
                continue
            existing = [t for t in tests if (ROOT / t).exists()]
            if existing:
                yield module, existing
            else:
                print(f"skip {module}: none of its test files exist", file=sys.stderr)


def _run_tests(scratch_src: Path, tests: list[str], limit: float) -> str:
    """'pass', 'fail' or 'timeout' for the test files against the scratch source; pytest's
    output goes to ``LOG`` in the scratch folder."""
    pid = os.fork()
    if pid == 0:  # child: run pytest in-process against the scratch copy
        try:
            os.setpgid(0, 0)  # its own group, so a timeout also ends what it started
            log = os.open(scratch_src.parent / LOG, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(log, 1)
            os.dup2(log, 2)
            import pytest

            code = pytest.main(["-q", "-x", "-p", "no:cacheprovider", "-p", "no:randomly", *tests])
            os._exit(0 if code == 0 else 1)
        except BaseException:
            os._exit(2)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return "pass" if os.waitstatus_to_exitcode(status) == 0 else "fail"
        time.sleep(0.05)
    os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "timeout"


LOG = "pytest.log"

# Libraries (never ahora itself) that the tests import anyway.
_PRELOAD = (
    "pytest",
    "pytest_asyncio",
    "pytest_socket",
    "pytest_timeout",
    "langchain.agents",
    "langchain_core.messages",
    "langchain_openai",
    "langgraph.graph",
    "langgraph.checkpoint.sqlite",
    "langgraph.checkpoint.memory",
    "langchain_tests.unit_tests",
    "openai",
    "requests",
    "requests_cache",
    "rich.console",
    "rich.markdown",
    "typer",
    "typer.testing",
    "pexpect",
    "trafilatura",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help="substrings of module paths (default: all)")
    parser.add_argument("--limit", type=int, default=0, help="at most N mutants per module")
    parser.add_argument("--seed", type=int, default=14, help="seed for --limit's sample")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    args = parser.parse_args()

    os.chdir(ROOT)
    targets = list(expand_targets(args.modules))
    if args.list:
        for module, tests in targets:
            lines = (ROOT / "src/ahora" / module).read_text(encoding="utf-8").splitlines()
            print(f"{module}  ({', '.join(tests)})")
            for m in mutants_of(module):
                print(f"  #{m.index:<3} line {m.line:<4} {m.what:<28} {lines[m.line - 1].strip()}")
        return 0

    # A SIGTERM ends the run through ``finally`` below, so the scratch copy goes too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scratch = Path(tempfile.mkdtemp(prefix="ahora-mutation-"))
    scratch_src = scratch / "src"
    shutil.copytree(ROOT / "src", scratch_src, ignore=shutil.ignore_patterns("__pycache__"))
    # Children (and the subprocesses some tests start) import the scratch copy.
    sys.dont_write_bytecode = True
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(scratch_src), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
                             and Path(p).resolve() != (ROOT / "src").resolve()]]
    )  # fmt: skip
    sys.path[:] = [str(scratch_src)] + [
        p for p in sys.path if p and Path(p).resolve() != (ROOT / "src").resolve()
    ]
    sys.path.insert(1, str(ROOT))
    # The heavy imports once, in the parent; children inherit them already loaded
    # (measured: a child's pytest start-up drops from about 4 s to 1 s).
    import importlib

    for name in _PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)

    assert "ahora" not in sys.modules, "the parent must not import ahora (children would share it)"

    totals: list[tuple[str, int, int, int, int]] = []
    survivors: list[str] = []
    try:
        for module, tests in targets:
            original = (ROOT / "src/ahora" / module).read_text(encoding="utf-8")
            lines = original.splitlines()
            target_file = scratch_src / "ahora" / module
            all_mutants = mutants_of(module)
            chosen = all_mutants
            if args.limit and len(all_mutants) > args.limit:
                chosen = sorted(
                    random.Random(f"{args.seed}:{module}").sample(all_mutants, args.limit),
                    key=lambda m: m.index,
                )
            # Baseline: the unparsed original must pass, and gives the time limit.
            target_file.write_text(ast.unparse(ast.parse(original)), encoding="utf-8")
            started = time.monotonic()
            if _run_tests(scratch_src, tests, 600) != "pass":
                print(f"{module}: its tests fail without any mutation; skipped", flush=True)
                tail = (scratch / LOG).read_text(errors="replace").splitlines()[-25:]
                print("\n".join(f"    {line}" for line in tail), flush=True)
                continue
            limit = max(20.0, 3 * (time.monotonic() - started) + 10)
            killed = timeouts = equivalent = 0
            module_survivors: list[str] = []
            for m in chosen:
                key = m.key(lines)
                if key in EQUIVALENT:
                    equivalent += 1
                    continue
                target_file.write_text(mutant_source(original, m.index), encoding="utf-8")
                outcome = _run_tests(scratch_src, tests, limit)
                if outcome == "pass":
                    module_survivors.append(f"  line {m.line}: {m.what}    {key}")
                else:
                    killed += 1
                    timeouts += outcome == "timeout"
            target_file.write_text(original, encoding="utf-8")
            scored = len(chosen) - equivalent
            sampled = f" (sample of {len(all_mutants)})" if chosen is not all_mutants else ""
            print(
                f"{module:<34} killed {killed:>3} / {scored:<3} "
                f"{100 * killed / max(scored, 1):5.1f}%{sampled}"
                f"{f', {timeouts} by timeout' if timeouts else ''}"
                f"{f', {equivalent} equivalent' if equivalent else ''}",
                flush=True,
            )
            for line in module_survivors:
                print(line, flush=True)
            survivors += module_survivors
            totals.append((module, killed, scored, timeouts, equivalent))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    killed = sum(t[1] for t in totals)
    scored = sum(t[2] for t in totals)
    print(f"\nTOTAL killed {killed} / {scored} = {100 * killed / max(scored, 1):.1f}%")
    print(f"survivors: {len(survivors)} (equivalent ones are listed in EQUIVALENT)")
    return 0 if not survivors else 1


if __name__ == "__main__":
    sys.exit(main())
