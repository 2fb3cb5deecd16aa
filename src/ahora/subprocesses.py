"""Every Python helper process ahora starts, started one isolated way.

``python -c CODE`` puts the current folder first on ``sys.path``, ahead of the standard
library, and a child inherits every secret in the environment: a ``json.py`` in a
cloned repository would run inside the helper with the API key in reach. So helpers
(the page-parsing worker, the MCP stderr relay) start through :func:`helper`:

- ``python -I``: no current folder and no script folder on ``sys.path``, no
  ``PYTHON*`` variables (``PYTHONPATH``, ``PYTHONSTARTUP``...), no user site folder;
- ``sys.path`` is then set to the parent's own (so the child imports the same ahora
  and the same libraries), minus ``''`` and the working folder;
- a neutral working folder (the file system's root), so relative paths in libraries
  never read the user's folder;
- only the environment the caller names (the worker needs no keys at all).

Standard library only: the CLI imports this at start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NEUTRAL_DIR", "Helper", "helper", "helper_path", "start"]

#: The working folder helpers run in: nothing there is imported or read.
NEUTRAL_DIR = os.path.abspath(os.sep)

# Runs before anything else in the child: take the parent's path, then call the entry.
_PRELUDE = (
    "import sys, json, importlib; sys.path[:] = json.loads(sys.argv.pop(1)); "
    "m, _, f = sys.argv.pop(1).partition(':'); "
    "sys.exit(getattr(importlib.import_module(m), f)(*sys.argv[1:]))"
)

# Variables a helper may keep from the parent: locale and temporary folder, no secrets.
_PLAIN = ("LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SYSTEMROOT")


@dataclass(frozen=True)
class Helper:
    """How to start one helper: the command line, working folder and whole environment."""

    argv: list[str]
    cwd: str = NEUTRAL_DIR
    env: dict[str, str] = field(default_factory=dict)


def helper_path(cwd: str | None = None) -> list[str]:
    """The parent's ``sys.path`` without the entries that mean "the working folder"."""
    here = os.path.realpath(cwd if cwd is not None else os.getcwd())
    # Relative entries are made absolute (the helper runs elsewhere); those that are
    # the working folder itself ('', '.', or its absolute name) are left out.
    kept = [os.path.abspath(p) for p in sys.path if p]
    return [p for p in kept if os.path.realpath(p) != here]


def helper(entry: str, *args: str, env: Mapping[str, str] | None = None) -> Helper:
    """A helper that calls ``entry`` (``"package.module:function"``) with ``args``
    (strings) in an isolated interpreter; its exit code is the function's return.

    ``env`` is added to the few plain variables kept (locale, temporary folder).
    """
    plain = {k: os.environ[k] for k in _PLAIN if k in os.environ}
    argv = [sys.executable, "-I", "-c", _PRELUDE, json.dumps(helper_path()), entry, *args]
    return Helper(argv, NEUTRAL_DIR, {**plain, **(env or {})})


def start(h: Helper, **popen: Any) -> subprocess.Popen[bytes]:
    """Start ``h`` (``popen`` takes the pipes and such, never ``cwd`` or ``env``)."""
    return subprocess.Popen(h.argv, cwd=h.cwd, env=h.env, **popen)
