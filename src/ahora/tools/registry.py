"""Where tools come from: one registry for built-ins, plugins, local files and MCP.

Four sources, loaded in this order (the first tool to claim a name keeps it):

1. **Built-ins**: ahora's own entry points in the group ``ahora.tools`` (declared in
   its pyproject). When the package metadata is missing (running from a source tree
   that was never installed) the ``BUILTIN`` map below stands in.
2. **Plugins**: any other installed distribution with entry points in ``ahora.tools``.
   The contract, for built-ins and plugins alike: the entry point's value is a
   ``module:attr`` naming a LangChain ``BaseTool``, a list of them, or a function
   taking no arguments that returns either. In the plugin's pyproject::

       [project.entry-points."ahora.tools"]
       stock_price = "ahora_stocks:stock_price"     # a @tool
       stocks = "ahora_stocks:all_tools"            # a function returning [tool, ...]

3. **Local tool files**: every ``*.py`` (not starting with ``_``) in
   ``settings.tools_dir`` (``AHORA_TOOLS_DIR``, the config file, ``--tools-dir``) or,
   when that is unset, in ``./tools`` if it exists and the working folder is trusted
   (``ahora trust``, see :mod:`ahora.trust`). Each file is run and every ``BaseTool``
   in its namespace (or its ``__all__``) is a tool. These files run with your
   permissions: only point ahora at folders you trust. What runs is exactly what was
   read and hashed: the files are read once (``ahora.trust.Snapshot``) and compiled
   from those bytes, never from a ``__pycache__`` in the folder. The files form one
   package per folder, so a tool imports its helpers relatively
   (``from .helpers import greet`` for ``tools/helpers/__init__.py``), and those
   come from the same read.
4. **MCP servers** from ``settings.mcp_servers`` (``[mcp_servers.NAME]`` tables; see
   :mod:`ahora.mcp`).
5. **Your documents**: ``search_docs`` over the document index (``ahora docs add``),
   once it holds a folder (:func:`ahora.tools.search_docs.indexed_docs_tools`).

A broken source (an import error, something that is not a tool, a name already
taken, an MCP server that does not start) never stops the others: it becomes a
*problem*, a one-line message. ``available_tools`` warns once per problem
(``ToolLoadWarning``); ``tool_problems`` lists them for ``ahora tools``.

``describe_tools`` must answer in a few milliseconds (the CLI's ``ahora tools``), and
importing LangChain alone takes far longer. So names, descriptions and origins are
cached in ``settings.cache_dir/tool_catalog.json``, keyed by ahora's version, the mtimes of
the ``sys.path`` folders (installing or removing a distribution changes them) and of
the built-in tool modules, the local tool files' paths and mtimes, and the MCP
configuration. A stale key rebuilds the cache by loading every tool for real. MCP
servers are asked for their tools only then: a server that changes its tools without
a configuration change shows the old list until something else changes.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.util
import json
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ahora.__about__ import __version__
from ahora.settings import Settings
from ahora.trust import Snapshot, read_tree, trusted_snapshot

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from langchain_core.tools import BaseTool

__all__ = [
    "BUILTIN",
    "GROUP",
    "ToolInfo",
    "ToolLoadWarning",
    "ToolSet",
    "as_tools",
    "available_tools",
    "describe_tools",
    "load_builtin_tools",
    "load_tools",
    "local_tools_dir",
    "tool_problems",
]

#: The entry-point group every tool source registers in.
GROUP = "ahora.tools"

#: Built-in tools, used when ahora's own entry points cannot be read.
BUILTIN = {
    "web_search": "ahora.tools.web_search:web_search",
    "read_page": "ahora.tools.read_page:read_page",
    "weather": "ahora.tools.weather:weather",
    "calculator": "ahora.tools.calculator:calculator",
    "clock": "ahora.tools.clock:clock",
}

_CACHE_FORMAT = 3
# OpenAI's rule for function names; Anthropic's and Gemini's accept as much.
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CACHE_ENTRIES = 4
_DIST = "ahora"


class ToolLoadWarning(UserWarning):
    """A tool source could not be loaded; the others were."""


@dataclass(frozen=True)
class ToolInfo:
    name: str
    description: str
    origin: str  # "builtin", "plugin:<dist>", "local:<path>", "mcp:<server>"


@dataclass
class ToolSet:
    """Everything one load found: tools by name (in load order), their infos, problems."""

    tools: dict[str, BaseTool] = field(default_factory=dict)
    infos: list[ToolInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, tools: Iterable[BaseTool], origin: str) -> None:
        for t in tools:
            if not _TOOL_NAME.fullmatch(t.name):  # else every model request is refused
                self.problems.append(
                    f"tool {t.name!r} from {origin} skipped: model providers accept only "
                    "letters, digits, '_' and '-' in a tool name, 64 at most"
                )
                continue
            if t.name in self.tools:
                taken = next(i.origin for i in self.infos if i.name == t.name)
                if self.tools[t.name] is not t:
                    self.problems.append(
                        f"tool {t.name!r} from {origin} skipped: the name is taken by {taken}"
                    )
                continue
            self.tools[t.name] = t
            self.infos.append(ToolInfo(t.name, _first_line(t.description), origin))


# --- the plugin contract -------------------------------------------------------------


def as_tools(obj: Any, where: str) -> list[BaseTool]:
    """What an entry point (or ``where``) exposes, as tools; ``InvalidTool`` if not tools.

    Accepts a ``BaseTool``, a list or tuple of them, or a zero-argument callable
    returning either.
    """
    from langchain_core.tools import BaseTool

    from ahora.errors import InvalidTool

    if not isinstance(obj, BaseTool | list | tuple) and callable(obj):
        obj = obj()
    if isinstance(obj, BaseTool):
        return [obj]
    if isinstance(obj, list | tuple) and obj and all(isinstance(t, BaseTool) for t in obj):
        return list(obj)
    raise InvalidTool(
        f"{where} is not a tool (got {type(obj).__name__}): expose a LangChain tool (@tool), "
        "a list of them, or a function with no arguments returning either"
    )


def _import_target(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


# --- entry points: built-ins and plugins ----------------------------------------------


def _entry_points() -> list[EntryPoint]:
    from importlib.metadata import entry_points

    return list(entry_points(group=GROUP))


def _dist_name(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return str(dist.name) if dist is not None else "unknown"


def _builtin_targets(eps: list[EntryPoint]) -> list[tuple[str, str]]:
    """(name, target) of the built-ins: ahora's entry points, or ``BUILTIN`` without them."""
    own = {ep.name: ep.value for ep in eps if _dist_name(ep).lower() == _DIST}
    if not own:
        return list(BUILTIN.items())
    order = list(BUILTIN)
    return sorted(own.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, kv[0]))


def _load_target(found: ToolSet, target: str, origin: str, label: str) -> None:
    try:
        tools = as_tools(_import_target(target), f"{label} ({target})")
    except Exception as exc:  # any failure of someone else's code is a problem, not a crash
        found.problems.append(_problem(f"{label} ({target})", exc))
        return
    found.add(tools, origin)


def _load_entry_points(found: ToolSet, eps: list[EntryPoint]) -> None:
    for name, target in _builtin_targets(eps):
        _load_target(found, target, "builtin", f"built-in tool {name!r}")
    for ep in sorted(eps, key=lambda e: (_dist_name(e), e.name)):
        dist = _dist_name(ep)
        if dist.lower() == _DIST:
            continue
        _load_target(found, ep.value, f"plugin:{dist}", f"plugin {dist!r} entry point {ep.name!r}")


def load_builtin_tools() -> list[BaseTool]:
    """The built-in tools, through the same entry points as plugins (problems warn)."""
    found = ToolSet()
    for name, target in _builtin_targets(_entry_points()):
        _load_target(found, target, "builtin", f"built-in tool {name!r}")
    _warn(found.problems)
    return list(found.tools.values())


# --- local tool files -----------------------------------------------------------------


def local_tools_dir(*, settings: Settings) -> Path | None:
    """``settings.tools_dir`` when set, else ``./tools`` when it exists and the working
    folder is trusted (``ahora.trust``), else None."""
    found = _local_sources(settings)
    return found[0] if found is not None else None


def _local_sources(s: Settings) -> tuple[Path, dict[str, bytes], tuple[str, ...]] | None:
    """The local tools folder and its files' bytes (read once: these are what run), or
    None; plus the problems of the read (links out of a named folder)."""
    if s.tools_dir:
        folder = Path(s.tools_dir).expanduser()
        snap = read_tree(folder) if folder.is_dir() else Snapshot(folder, {})
        return folder, snap.files, snap.problems
    default = Path("tools")
    if not default.is_dir():
        return None
    trusted = trusted_snapshot(Path.cwd(), s.home)
    return (default, trusted.under("tools"), ()) if trusted is not None else None


def _tool_files(files: dict[str, bytes]) -> list[str]:
    """The top-level ``*.py`` files that are tool modules (not ``_private`` ones)."""
    return sorted(
        rel
        for rel in files
        if "/" not in rel and rel.endswith(".py") and not rel.startswith(("_", "."))
    )


class _SnapshotImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the modules of one tools folder from the bytes that were read (and
    hashed), as the package ``package``: never from disk again, never a ``.pyc``."""

    def __init__(self, package: str, folder: Path, files: dict[str, bytes]) -> None:
        self.package = package
        self.folder = folder
        self.files = files

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname == self.package:
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        if not fullname.startswith(self.package + "."):
            return None
        rel = fullname[len(self.package) + 1 :].replace(".", "/")
        for name, package in ((f"{rel}.py", False), (f"{rel}/__init__.py", True)):
            if name in self.files:
                spec = importlib.util.spec_from_loader(fullname, self, is_package=package)
                if spec is not None:
                    spec.origin = str(self.folder / name)
                    spec.has_location = True
                    spec.submodule_search_locations = [] if package else None
                return spec
        return None

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        if module.__name__ == self.package:
            module.__path__ = []  # submodules come from this importer only
            return
        origin = str(module.__spec__.origin)
        source = self.files[Path(origin).relative_to(self.folder).as_posix()]
        exec(compile(source, origin, "exec", dont_inherit=True), module.__dict__)


def _install(folder: Path, files: dict[str, bytes]) -> str:
    """Register ``folder``'s snapshot as a package (replacing an earlier read of it)."""
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:10]
    package = f"ahora_local_tools_{digest}"
    for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
        del sys.modules[name]
    sys.meta_path[:] = [
        f for f in sys.meta_path if not (isinstance(f, _SnapshotImporter) and f.package == package)
    ]
    sys.meta_path.insert(0, _SnapshotImporter(package, folder, files))
    return package


def _import_file(package: str, rel: str) -> Any:
    """Run one tool module (``greet.py``) of the installed package."""
    return importlib.import_module(f"{package}.{rel.removesuffix('.py')}")


def _tools_in_module(module: Any) -> list[BaseTool]:
    from langchain_core.tools import BaseTool

    names = getattr(module, "__all__", None)
    values = (
        [getattr(module, n) for n in names]
        if names is not None
        else [v for k, v in vars(module).items() if not k.startswith("_")]
    )
    return [v for v in values if isinstance(v, BaseTool)]


def _load_local(found: ToolSet, settings: Settings) -> None:
    sources = _local_sources(settings)
    if sources is None:
        return
    folder, files, problems = sources
    if settings.tools_dir and not folder.is_dir():
        found.problems.append(f"tools_dir {str(folder)!r} is not a folder; no local tools loaded")
        return
    if problems:
        found.problems.append(
            f"tools_dir {str(folder)!r} skipped: {'; '.join(problems)}; no local tools loaded"
        )
        return
    package = _install(folder, files)
    for rel in _tool_files(files):
        path = folder / rel
        try:
            tools = _tools_in_module(_import_file(package, rel))
        except Exception as exc:
            found.problems.append(_problem(f"local tool file {str(path)!r}", exc))
            continue
        if not tools:
            found.problems.append(
                f"local tool file {str(path)!r} defines no tools (decorate functions with @tool)"
            )
        found.add(tools, f"local:{path}")


# --- MCP servers ----------------------------------------------------------------------


def _load_mcp(found: ToolSet, settings: Settings) -> None:
    if not settings.mcp_servers:
        return
    try:
        from ahora.mcp import load_server_tools
    except ImportError as exc:
        found.problems.append(
            f"MCP servers are configured but MCP support is not installed "
            f"(pip install 'ahora[mcp]'): {exc}"
        )
        return
    for name, config in settings.mcp_servers.items():
        try:
            tools = load_server_tools(name, config)
        except Exception as exc:
            found.problems.append(_problem(f"MCP server {name!r}", exc))
            continue
        found.add(tools, f"mcp:{name}")


def _load_docs(found: ToolSet, settings: Settings) -> None:
    if not _docs_db(settings).is_file():  # never indexed: skip the imports too
        return
    try:
        from ahora.tools.search_docs import indexed_docs_tools

        tools = indexed_docs_tools(_docs_db(settings))
    except Exception as exc:
        found.problems.append(_problem("the document index", exc))
        return
    found.add(tools, "docs")


def _docs_db(settings: Settings) -> Path:
    return settings.docs_db


# --- loading, memo and the describe cache --------------------------------------------

_memo_lock = threading.Lock()
_memo: dict[str, ToolSet] = {}


def load_tools(*, settings: Settings) -> ToolSet:
    """Load every tool source; refreshes the ``describe_tools`` cache.

    Loads happen once per process for the same sources (local files are imported and
    MCP servers asked once); a changed file or configuration loads again.
    """
    key = _cache_key(settings)
    with _memo_lock:
        if key in _memo:
            return _memo[key]
        found = ToolSet()
        _load_entry_points(found, _entry_points())
        _load_local(found, settings)
        _load_mcp(found, settings)
        _load_docs(found, settings)
        _memo[key] = found
    _write_cache(settings, key, found)
    return found


def available_tools(*, settings: Settings) -> dict[str, BaseTool]:
    """Every tool by name: built-ins first, then plugins, local tool files and MCP.

    Each problem is reported once per process as a ``ToolLoadWarning``.
    """
    fresh = _cache_key(settings) not in _memo
    found = load_tools(settings=settings)
    if fresh:
        _warn(found.problems)
    return dict(found.tools)


def describe_tools(*, settings: Settings, refresh: bool = False) -> list[ToolInfo]:
    """Name, first sentence and origin of every available tool (cached; fast).

    ``refresh`` ignores the cache and loads every source again.
    """
    return _catalog(settings, refresh)[0]


def tool_problems(*, settings: Settings, refresh: bool = False) -> list[str]:
    """The tool sources that could not be loaded, one line each (cached; fast)."""
    return _catalog(settings, refresh)[1]


def _catalog(s: Settings, refresh: bool = False) -> tuple[list[ToolInfo], list[str]]:
    key = _cache_key(s)
    cached = None if refresh else _read_cache(s, key)
    if cached is not None:
        return cached
    if refresh:
        with _memo_lock:
            _memo.pop(key, None)
    found = load_tools(settings=s)
    _write_cache(s, key, found)  # also when this process had loaded them already
    return list(found.infos), list(found.problems)


def _cache_path(s: Settings) -> Path:
    return s.cache_dir / "tool_catalog.json"


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _cache_key(s: Settings) -> str:
    """A digest of everything that can change the tool list (stats only; no imports)."""
    here = Path(__file__).parent
    sources = _local_sources(s)
    folder, files = (sources[0], sources[1]) if sources is not None else (None, {})
    parts = {
        "format": _CACHE_FORMAT,
        "version": __version__,
        "sys_path": [(p, _mtime(Path(p))) for p in sys.path if p],
        "builtin_modules": [(p.name, _mtime(p)) for p in sorted(here.glob("*.py"))],
        # As given (origins show it) and resolved (a relative one depends on the cwd).
        "local_dir": [str(folder), str(folder.resolve())] if folder is not None else None,
        "local": [(rel, _mtime(folder / rel)) for rel in sorted(files)] if folder else None,
        "mcp": json.dumps(dict(s.mcp_servers), sort_keys=True, default=str),
        "docs": _mtime(_docs_db(s)),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _read_entries(s: Settings) -> dict[str, Any]:
    try:
        data = json.loads(_cache_path(s).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    entries = data.get("entries") if isinstance(data, dict) else None
    return entries if isinstance(entries, dict) else {}


def _read_cache(s: Settings, key: str) -> tuple[list[ToolInfo], list[str]] | None:
    try:
        entry = _read_entries(s)[key]
        infos = [
            ToolInfo(str(t["name"]), str(t["description"]), str(t["origin"]))
            for t in entry["tools"]
        ]
        return infos, [str(p) for p in entry["problems"]]
    except (KeyError, TypeError):
        return None


def _write_cache(s: Settings, key: str, found: ToolSet) -> None:
    """Keep the last few catalogs: a console script and ``python -m`` differ in
    ``sys.path`` (so in key), and must not evict each other."""
    entries = {k: v for k, v in _read_entries(s).items() if k != key}
    entries[key] = {"tools": [asdict(i) for i in found.infos], "problems": found.problems}
    path = _cache_path(s)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        kept = dict(list(entries.items())[-_CACHE_ENTRIES:])
        tmp.write_text(json.dumps({"entries": kept}, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only data dir only costs speed


# --- helpers --------------------------------------------------------------------------


def _first_line(text: str | None) -> str:
    """The first sentence of the first line (docstring-parsed descriptions are one line)."""
    lines = (text or "").strip().splitlines()
    first = lines[0].strip() if lines else ""
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", first, maxsplit=1)[0]


def _problem(what: str, exc: BaseException) -> str:
    from ahora.errors import InvalidTool

    if isinstance(exc, InvalidTool):
        return str(exc)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{what} failed to load: {type(exc).__name__}" + (f": {detail}" if detail else "")


def _warn(problems: list[str]) -> None:
    for p in problems:
        warnings.warn(p, ToolLoadWarning, stacklevel=3)
