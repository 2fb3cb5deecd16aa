"""Code and instructions in the working folder run only once the user trusted them.

A folder can carry ``tools/*.py`` (Python that ahora would import, with the API keys
in its environment) and ``agents/*.toml`` (instructions that would replace an agent's).
A cloned repository or a downloaded archive is a stranger's folder, so, like direnv
or an editor's workspace trust, ahora uses them only after ``ahora trust DIR``.

The record lives in the data directory (``Settings.home``/``trusted.json``): each
trusted folder with a hash of the files it had then: the whole ``tools/`` tree
(helpers and data files too; ``__pycache__`` aside, since bytecode from the folder
never runs) and ``agents/*.toml``. When a file changes (added, removed or edited), the
folder is untrusted again until the user looks and trusts it again. Until then ahora
warns once, on stderr, what it skipped and how to trust it. A link leading out of
the folder makes it untrustable: what was read would not be what is hashed.

Trust means exactly the bytes that run: :func:`trusted_snapshot` reads the files
once, hashes what it read, and the registry compiles those bytes
(:mod:`ahora.tools.registry`), never a ``.pyc`` and never a second read.

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
    "Snapshot",
    "TrustRecord",
    "UntrustableFolder",
    "UntrustedFolderWarning",
    "is_trusted",
    "local_files",
    "read_tree",
    "revoke",
    "trust",
    "trusted",
    "trusted_snapshot",
    "use_local",
]

TRUST_FILE = "trusted.json"
LOCAL_PARTS = {"tools": "**/*", "agents": "*.toml"}
"""What a folder may carry that ahora would use: sub-folder and file pattern."""

_SKIPPED_DIRS = {"__pycache__"}
"""Never read, never run: local tools are compiled from the hashed source."""


_said: set[str] = set()
"""The warnings given in this process (each is said once)."""


class UntrustedFolderWarning(UserWarning):
    """Local tools or agents were skipped because their folder is not trusted."""


class UntrustableFolder(ValueError):
    """The folder holds something that cannot be trusted (a link out of it)."""


@dataclass(frozen=True)
class TrustRecord:
    folder: Path
    digest: str
    trusted_at: float

    @property
    def current(self) -> bool:
        """Whether the folder still holds what was trusted."""
        return self.folder.is_dir() and fingerprint(self.folder) == self.digest


@dataclass(frozen=True)
class Snapshot:
    """The files of a folder that ahora would use, read once: what is hashed is what runs.

    ``files`` maps each path relative to the folder (``tools/greet.py``) to its bytes;
    ``problems`` names what makes the folder untrustable (a link out of it).
    """

    folder: Path
    files: dict[str, bytes]
    problems: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for rel in sorted(self.files):
            h.update(rel.encode() + b"\0")
            h.update(hashlib.sha256(self.files[rel]).digest())
        return h.hexdigest()

    def under(self, sub: str) -> dict[str, bytes]:
        """The files under ``sub`` (``"tools"``), keyed relative to it."""
        prefix = sub.rstrip("/") + "/"
        return {k.removeprefix(prefix): v for k, v in self.files.items() if k.startswith(prefix)}


def _own_source_tree(folder: Path) -> bool:
    """ahora's own checkout (an editable install run from its root): its ``agents/`` are
    the built-in profiles and its ``tools/`` ship with it; the user already runs its code.

    Decided from where the running package really is (``<root>/src/ahora``), never from a
    path inside ``folder``: a planted ``src/ahora/trust.py`` link must not count.
    """
    package = Path(__file__).resolve().parent
    if package.parent.name != "src":
        return False  # installed as a wheel: no checkout to be in
    try:
        return folder.resolve() == package.parent.parent
    except OSError:
        return False


def _tree(folder: Path, part: Path, pattern: str) -> tuple[list[Path], list[str]]:
    """The files of ``part`` (recursive for ``**/*``) and the links that leave ``folder``."""
    problems: list[str] = []
    top = folder.resolve()
    if part.is_symlink() and not part.resolve().is_relative_to(top):
        return [], [f"{part.relative_to(folder).as_posix()} links outside the folder"]
    if pattern != "**/*":
        candidates = sorted(part.glob(pattern))
    else:
        candidates = []
        for root, dirs, names in os.walk(part):
            dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
            for d in list(dirs):
                if (Path(root) / d).is_symlink():  # followed only when it stays inside
                    dirs.remove(d)
                    target = (Path(root) / d).resolve()
                    if not target.is_relative_to(top):
                        rel = (Path(root) / d).relative_to(folder).as_posix()
                        problems.append(f"{rel} links outside the folder")
            candidates.extend(Path(root) / n for n in sorted(names))
    found = []
    for path in candidates:
        if path.is_symlink() and not path.resolve().is_relative_to(top):
            problems.append(f"{path.relative_to(folder).as_posix()} links outside the folder")
        elif path.is_file():
            found.append(path)
    return found, problems


def _walk(folder: Path) -> tuple[list[Path], list[str]]:
    own = _own_source_tree(folder)
    found: list[Path] = []
    problems: list[str] = []
    for sub, pattern in LOCAL_PARTS.items():
        part = folder / sub
        # ahora's source tree keeps the built-in profiles in its agents/ (see
        # profiles.py's builtin_dir; a wheel keeps them inside the package).
        if part.is_dir() and not (sub == "agents" and own):
            files, bad = _tree(folder, part, pattern)
            found.extend(files)
            problems.extend(bad)
    return found, problems


def local_files(folder: Path) -> list[Path]:
    """The files in ``folder`` that ahora would use: the ``tools/`` tree (no
    ``__pycache__``), ``agents/*.toml`` (not ahora's own built-in profiles)."""
    return _walk(folder)[0]


def snapshot(folder: Path) -> Snapshot:
    """Read the files ahora would use in ``folder``, once."""
    return _read_files(folder, *_walk(folder))


def read_tree(folder: Path) -> Snapshot:
    """Every file under ``folder`` (a tools folder the user named), read once, keyed
    relative to it; links out of it are problems."""
    return _read_files(folder, *_tree(folder, folder, "**/*"))


def _read_files(folder: Path, paths: list[Path], problems: list[str]) -> Snapshot:
    files: dict[str, bytes] = {}
    for path in paths:
        try:
            files[path.relative_to(folder).as_posix()] = path.read_bytes()
        except OSError as exc:
            problems.append(f"{path.relative_to(folder).as_posix()} cannot be read ({exc})")
    return Snapshot(folder, files, tuple(problems))


def fingerprint(folder: Path) -> str:
    """A hash of the names and contents of the files ahora would use in ``folder``."""
    return snapshot(folder).digest


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
    snap = snapshot(folder)
    if snap.problems:
        raise UntrustableFolder(f"{folder} cannot be trusted: {'; '.join(snap.problems)}")
    record = TrustRecord(folder, snap.digest, time.time())
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


def is_trusted(folder: Path, home: Path) -> bool:
    """True when ``folder`` was trusted and still holds the same files."""
    snap = snapshot(folder)
    entry = _read(home).get(_key(folder))
    return not snap.problems and entry is not None and entry.get("digest") == snap.digest


def use_local(folder: Path, home: Path) -> bool:
    """Whether the tools and agents in ``folder`` may be used; warns once when not.

    The warning names what was skipped and the command that trusts the folder.
    """
    return trusted_snapshot(folder, home) is not None


def trusted_snapshot(folder: Path, home: Path) -> Snapshot | None:
    """The files of ``folder`` as read and hashed now, when they may be used (nothing to
    use, ahora's own checkout, or trusted and unchanged); else None, after warning once
    what was skipped and why."""
    snap = snapshot(folder)
    if not snap.files and not snap.problems:
        return snap
    if _own_source_tree(folder):
        return snap
    entry = _read(home).get(_key(folder))
    if not snap.problems and entry is not None and entry.get("digest") == snap.digest:
        return snap
    where = _key(folder)
    counts = []
    for sub in LOCAL_PARTS:
        n = sum(1 for rel in snap.files if rel.split("/", 1)[0] == sub)
        if n:
            counts.append(f"./{sub} ({n} file{'s' if n != 1 else ''})")
    if snap.problems:
        why = "it cannot be trusted: " + "; ".join(snap.problems)
        advice = "Remove the links, then run"
    else:
        why = (
            "its files changed since you trusted it"
            if entry is not None
            else "the folder is not trusted"
        )
        advice = "Read them, then run"
    message = (
        f"skipped {' and '.join(counts) or 'its tools'} in {where}: {why}. "
        f"{advice}: ahora trust {where}"
    )
    if message not in _said:  # once per process, whatever resets the warning filters
        _said.add(message)
        warnings.warn(message, UntrustedFolderWarning, stacklevel=3)
    return None
