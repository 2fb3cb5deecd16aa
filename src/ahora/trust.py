"""Code and instructions in the working folder run only once the user trusted them.

A folder can carry ``tools/*.py`` (Python that ahora would import, with the API keys
in its environment) and ``agents/*.toml`` (instructions that would replace an agent's).
A cloned repository or a downloaded archive is a stranger's folder, so, like direnv
or an editor's workspace trust, ahora uses them only after ``ahora trust DIR``.

The record lives in the data directory (``Settings.home``/``trusted.json``): each
trusted folder with a hash of the files it had then. When the files change (added,
removed or edited), the folder is untrusted again until the user looks and trusts it
again. Until then ahora warns once, on stderr, what it skipped and how to trust it.

A ``--tools-dir``/``AHORA_TOOLS_DIR`` or ``--agent PATH`` that the user names counts
as trust; plugins installed as packages are not affected.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "TrustRecord",
    "UntrustedFolderWarning",
    "is_trusted",
    "local_files",
    "revoke",
    "trust",
    "trusted",
    "use_local",
]

TRUST_FILE = "trusted.json"
LOCAL_PARTS = {"tools": "*.py", "agents": "*.toml"}
"""What a folder may carry that ahora would use: sub-folder and file pattern."""


_said: set[str] = set()
"""The warnings given in this process (each is said once)."""


class UntrustedFolderWarning(UserWarning):
    """Local tools or agents were skipped because their folder is not trusted."""


@dataclass(frozen=True)
class TrustRecord:
    folder: Path
    digest: str
    trusted_at: float

    @property
    def current(self) -> bool:
        """Whether the folder still holds what was trusted."""
        return self.folder.is_dir() and fingerprint(self.folder) == self.digest


def local_files(folder: Path) -> list[Path]:
    """The files in ``folder`` that ahora would use: ``tools/*.py``, ``agents/*.toml``
    (not ahora's own built-in profiles, when run from its source tree)."""
    # ahora's source tree keeps the built-in profiles in its agents/ (see profiles.py's
    # builtin_dir; a wheel keeps them inside the package, never in a working folder).
    builtin = Path(__file__).resolve().parents[2] / "agents"
    found: list[Path] = []
    for sub, pattern in LOCAL_PARTS.items():
        part = folder / sub
        if part.is_dir() and not (sub == "agents" and part.resolve() == builtin):
            found.extend(sorted(p for p in part.glob(pattern) if p.is_file()))
    return found


def fingerprint(folder: Path) -> str:
    """A hash of the names and contents of the files ahora would use in ``folder``."""
    h = hashlib.sha256()
    for path in local_files(folder):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _store(home: Path) -> Path:
    return home / TRUST_FILE


def _read(home: Path) -> dict[str, dict[str, float | str]]:
    try:
        data = json.loads(_store(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    folders = data.get("folders") if isinstance(data, dict) else None
    return folders if isinstance(folders, dict) else {}


def _write(home: Path, folders: dict[str, dict[str, float | str]]) -> None:
    """Replace the record atomically (a fresh temporary file, then rename)."""
    home.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=home, prefix=".trusted.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"folders": folders}, f, indent=1, sort_keys=True)
        os.replace(tmp, _store(home))
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _key(folder: Path) -> str:
    return str(folder.expanduser().resolve())


def trust(folder: Path, home: Path) -> TrustRecord:
    """Trust ``folder`` with the files it holds now."""
    folder = Path(_key(folder))
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    record = TrustRecord(folder, fingerprint(folder), time.time())
    folders = _read(home)
    folders[str(folder)] = {"digest": record.digest, "trusted_at": record.trusted_at}
    _write(home, folders)
    return record


def revoke(folder: Path, home: Path) -> bool:
    """Forget ``folder``; False when it was not trusted."""
    folders = _read(home)
    if folders.pop(_key(folder), None) is None:
        return False
    _write(home, folders)
    return True


def trusted(home: Path) -> list[TrustRecord]:
    """Every trusted folder, in path order."""
    out = []
    for key, entry in sorted(_read(home).items()):
        try:
            out.append(TrustRecord(Path(key), str(entry["digest"]), float(entry["trusted_at"])))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def _own_source_tree(folder: Path) -> bool:
    """ahora's own checkout (an editable install run from its root): its ``agents/`` are
    the built-in profiles and its ``tools/`` ship with it; the user already runs its code."""
    here = Path(__file__).resolve()
    try:
        return (folder / "src" / "ahora" / "trust.py").resolve() == here
    except OSError:
        return False


def is_trusted(folder: Path, home: Path) -> bool:
    """True when ``folder`` was trusted and still holds the same files."""
    entry = _read(home).get(_key(folder))
    return entry is not None and entry.get("digest") == fingerprint(folder)


def use_local(folder: Path, home: Path) -> bool:
    """Whether the tools and agents in ``folder`` may be used; warns once when not.

    The warning names what was skipped and the command that trusts the folder.
    """
    files = local_files(folder)
    if not files or _own_source_tree(folder) or is_trusted(folder, home):
        return True
    where = _key(folder)
    changed = where in _read(home)
    counts = []
    for sub in LOCAL_PARTS:
        n = sum(1 for p in files if p.parent.name == sub)
        if n:
            counts.append(f"./{sub} ({n} file{'s' if n != 1 else ''})")
    why = "its files changed since you trusted it" if changed else "the folder is not trusted"
    message = (
        f"skipped {' and '.join(counts)} in {where}: {why}. "
        f"Read them, then run: ahora trust {where}"
    )
    if message not in _said:  # once per process, whatever resets the warning filters
        _said.add(message)
        warnings.warn(message, UntrustedFolderWarning, stacklevel=2)
    return False
