"""The layers hold: no module imports upward, and no two modules import each other.

Read with ``ast`` from the sources, lazy imports inside functions included (they are
still dependencies); imports under ``if TYPE_CHECKING:`` are left out (annotations
only). See ARCHITECTURE.md for what each layer is for.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Lowest first. A module may import from its own layer and the layers below it; a
# module is in the layer of the longest prefix listed for it. The foundation is split
# along its real imports, so imports among its modules are checked too.
LAYERS: list[tuple[str, list[str]]] = [
    (
        "foundation: base",  # import nothing from ahora
        ["ahora.__about__", "ahora.errors", "ahora.pricing", "ahora.masking", "ahora.safe_text"],
    ),
    ("foundation: settings", ["ahora.settings"]),
    (
        "foundation: the run and the conversation",
        [
            "ahora.budget",
            "ahora.folds",
            "ahora.context",
            "ahora.messages",
            "ahora.offered",
            "ahora.timing",
            "ahora.schemas",
            "ahora.sourced",
        ],
    ),
    ("foundation: the network", ["ahora.daemon_call", "ahora.netguard", "ahora.http"]),
    ("foundation: models and the prompt", ["ahora.models", "ahora.prompt"]),
    (
        "foundation: processes and traces",
        ["ahora.subprocesses", "ahora.worker", "ahora.pages", "ahora.trust", "ahora.tracing"],
    ),
    (
        "tools, middleware, storage",
        [
            "ahora.tools",
            "ahora.search",
            "ahora.docs",
            "ahora.mcp",
            "ahora.middleware",
            "ahora.threads",
            "ahora.testing",
        ],
    ),
    ("recipe", ["ahora.profiles", "ahora.recipe"]),
    ("views", ["ahora.answer", "ahora.events", "ahora.export", "ahora.timeline"]),
    ("agent", ["ahora.agent", "ahora.server", "ahora.server_http", "ahora.subagents"]),
    ("cli", ["ahora.cli", "ahora.__main__"]),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / "ahora").rglob("*.py"))}


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or module.startswith(prefix + ".")
            if inside and (best is None or len(prefix) > best[0]):
                best = (len(prefix), rank)
    return best[1] if best else None


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported(path: Path, module: str) -> Iterator[str]:
    """The ahora modules ``module`` imports, at run time."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    known = modules()

    def visit(node: ast.AST) -> Iterator[str]:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                yield from visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield full if full in known else base
        for child in ast.iter_child_nodes(node):
            yield from visit(child)

    for name in visit(tree):
        if name == "ahora" or name.startswith("ahora."):
            yield name


@functools.cache
def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: set(imported(path, name)) - {name} for name, path in found.items()}


def test_every_module_is_in_a_layer() -> None:
    # The package facade (lazy public names) is the one exception.
    unplaced = [m for m in modules() if m != "ahora" and layer_of(m) is None]
    assert not unplaced, f"place these modules in LAYERS (and ARCHITECTURE.md): {unplaced}"


def test_no_module_imports_upward() -> None:
    upward = []
    for module, targets in graph().items():
        rank = layer_of(module)
        if rank is None:
            continue
        for target in sorted(targets):
            other = layer_of(target)
            if other is not None and other > rank:
                upward.append(f"{module} ({LAYERS[rank][0]}) imports {target} ({LAYERS[other][0]})")
    assert not upward, "\n".join(upward)


KNOWN_CIRCLES: list[set[str]] = []


def test_no_import_circles() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def dfs(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in edges or _package_of(node, nxt):
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                dfs(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            dfs(node)
    new = [c for c in cycles if set(c) not in KNOWN_CIRCLES]
    assert not new, "\n".join(" -> ".join(c) for c in new)


def _package_of(module: str, other: str) -> bool:
    """A package's ``__init__`` re-exports its modules: that is not a circle."""
    return module.startswith(other + ".") or other.startswith(module + ".")


@pytest.mark.parametrize("view", ["ahora.events", "ahora.answer", "ahora.export", "ahora.cli"])
def test_views_read_the_conversation_format_not_middleware(view: str) -> None:
    edges = graph()
    readers = [m for m in edges if m == view or m.startswith(view + ".")]
    bad = [
        f"{m} imports {t}"
        for m in readers
        for t in sorted(edges[m])
        if t.startswith("ahora.middleware")
    ]
    assert not bad, "\n".join(bad)


# Settings are resolved once, at the edge: these read the environment's settings; every
# other module takes its ``Settings`` from its caller (ARCHITECTURE.md, "the layers").
SETTINGS_EDGES = (
    "ahora.cli",  # the terminal: every command reads the environment once
    "ahora.agent",  # Agent() and build_agent() without settings=
    "ahora.server",  # LangGraph's server calls the graph factory with no settings
    "ahora.context",  # settings_of: a tool run by hand, without a run context
    "ahora.settings",  # get_settings itself
    "ahora.models",  # choose_model / resolve_model, user-facing
)


def _reads_the_environment(node: ast.Call) -> bool:
    """``get_settings()`` (however imported), ``Settings.load()``, or the folders the
    environment names (``config_path()``, ``data_dir()``: ``settings.config_file`` and
    ``settings.home`` say them for the run)."""
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if name in ("get_settings", "config_path", "data_dir"):
        return True
    return (
        name == "load"
        and isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "Settings"
    )


def test_settings_are_read_from_the_environment_only_at_the_edges() -> None:
    found = []
    for module, path in modules().items():
        if any(module == e or module.startswith(e + ".") for e in SETTINGS_EDGES):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _reads_the_environment(node):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "take Settings from the caller instead:\n" + "\n".join(found)
