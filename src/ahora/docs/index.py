"""``DocIndex``: index folders of the user's documents and search them with BM25.

Indexing walks a folder and, per file, compares size and mtime with what the database
remembers: equal means unchanged, and the file is not even opened. Otherwise it is
read and hashed; an equal hash only refreshes the stored mtime, a new one replaces
the file's chunks. Files that have gone are dropped. Every change of one ``add`` is
written in one transaction, so a search never sees a half-indexed folder.

Files that cannot be indexed (binary, undecodable, broken links, special files, too
large) are skipped and counted, never fatal; a folder that does not exist raises
``NotAFolder``. Hidden files and folders (``.git``, ``.DS_Store``) are not walked.

Citations are relative to the indexed folder: ``handbook/refunds.md:12`` (line) or
``guide.pdf#page=3`` (page).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple

from ahora.docs import store
from ahora.docs.extract import Chunk, line_at
from ahora.errors import NotAFolder

if TYPE_CHECKING:
    from ahora.docs.embeddings import Embedder

__all__ = ["DocIndex", "FolderInfo", "Hit", "IndexSummary", "NotAFolder"]

MAX_FILE_BYTES = 20_000_000
"""Larger files are skipped without being read."""
FILE_SECONDS = 20.0
"""Longest time spent reading one file; past it the file is skipped."""
FILE_MEMORY = 400 * 1024 * 1024
"""Memory one file may take to read (a 48 MB HTML file once took 2.6 GB)."""
_SPECIAL_TREES = tuple(Path(p) for p in ("/proc", "/sys", "/dev"))
_CANDIDATES = 50
"""How many passages each ranking contributes to the fusion."""
_EMBED_BATCH = 64
_IGNORED_DIRS = frozenset({"node_modules", "__pycache__"})


@dataclass(frozen=True, slots=True)
class IndexSummary:
    """What one ``DocIndex.add`` did. ``chunks`` counts chunks written by this run."""

    folder: Path
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    chunks: int = 0
    seconds: float = 0.0
    skipped_files: tuple[tuple[str, str], ...] = ()
    """``(relative path, reason)`` for each skipped file."""


@dataclass(frozen=True, slots=True)
class FolderInfo:
    path: Path
    files: int
    chunks: int
    skipped: int
    indexed_at: float


@dataclass(frozen=True, slots=True)
class Hit:
    """One passage found by a search."""

    folder: Path
    path: str
    """Relative to ``folder``, with forward slashes."""
    line: int | None
    page: int | None
    text: str
    score: float
    """Higher is better (BM25, negated; or the fused score with embeddings)."""
    chunk_id: int = 0

    @property
    def citation(self) -> str:
        """``handbook/refunds.md:12``, ``guide.pdf#page=3`` or just the path."""
        if self.page is not None:
            return f"{self.path}#page={self.page}"
        if self.line is not None:
            return f"{self.path}:{self.line}"
        return self.path

    @property
    def uri(self) -> str:
        """``file:///abs/handbook/refunds.md#L12`` or ``file:///abs/guide.pdf#page=3``."""
        base = (self.folder / self.path).as_uri()
        if self.page is not None:
            return f"{base}#page={self.page}"
        if self.line is not None:
            return f"{base}#L{self.line}"
        return base


def resolve_folder(folder: Path | str) -> Path:
    """The absolute, resolved form under which a folder is stored."""
    return Path(folder).expanduser().resolve()


class _Skip(Exception):
    """A file found unfit before reading it."""


class _Known(NamedTuple):
    """What the database remembers about a file."""

    id: int
    size: int
    mtime_ns: int
    sha256: str
    skipped: str | None


@dataclass(slots=True)
class _Tally:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0


class DocIndex:
    """Folders of documents, indexed in one SQLite database, searchable with BM25.

    With an ``embedder`` (see ``ahora.docs.embeddings``), ``add`` also embeds new
    chunks and ``search`` fuses BM25 with cosine similarity. The database is opened on
    first use. Instances are safe to share between threads.
    """

    def __init__(self, path: Path, *, embedder: Embedder | None = None) -> None:
        """The index in the SQLite file ``path`` (the data directory's: ``settings.docs_db``;
        the path is always given, so an agent's index is its own settings', never the
        environment's)."""
        self.path = path
        self.embedder = embedder
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._vectors: tuple[Any, Any, Any] | None = None
        self._df: dict[str, int] = {}
        self._total: int | None = None

    # -- lifecycle ---------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = store.connect(self.path)
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> DocIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- indexing ----------------------------------------------------------------

    def add(self, folder: Path | str) -> IndexSummary:
        """Index ``folder`` (or bring its index up to date). Raises ``NotAFolder``."""
        started = time.perf_counter()
        root = resolve_folder(folder)
        if not root.is_dir():
            what = "does not exist" if not root.exists() else "is not a folder"
            raise NotAFolder(f"{folder} {what}")
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                folder_id = self._folder_id(root, create=True)
                assert folder_id is not None
                known = {
                    row[0]: _Known(*row[1:])
                    for row in db.execute(
                        "SELECT relpath, id, size, mtime_ns, sha256, skipped FROM files"
                        " WHERE folder_id = ?",
                        (folder_id,),
                    )
                }
                tally = _Tally()
                seen: set[str] = set()
                for rel, full in _walk(root):
                    seen.add(rel)
                    self._index_file(folder_id, root, rel, full, known.get(rel), tally)
                gone = [known[rel].id for rel in known.keys() - seen]
                self._delete_files(gone)
                db.execute(
                    "UPDATE folders SET indexed_at = ? WHERE id = ?", (time.time(), folder_id)
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._forget_stats()
            if tally.chunks or gone or tally.updated:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # keep the WAL file small
        if self.embedder is not None:
            self._embed_missing(root)
        return IndexSummary(
            folder=root,
            added=tally.added,
            updated=tally.updated,
            unchanged=tally.unchanged,
            removed=len(gone),
            skipped=len(tally.skipped),
            chunks=tally.chunks,
            seconds=time.perf_counter() - started,
            skipped_files=tuple(sorted(tally.skipped)),
        )

    def _index_file(
        self,
        folder_id: int,
        root: Path,
        rel: str,
        full: Path,
        known: _Known | None,
        tally: _Tally,
    ) -> None:
        db = self._db
        try:
            path = _inside(root, full)
            st = os.stat(path)
            if not stat.S_ISREG(st.st_mode):
                raise _Skip(_special(st.st_mode))
            if known is not None and (known.size, known.mtime_ns) == (st.st_size, st.st_mtime_ns):
                _count_unchanged(rel, known, tally)
                return
            data = b"" if st.st_size > MAX_FILE_BYTES else _read_regular(path, st)
        except (OSError, _Skip) as exc:
            if isinstance(exc, FileNotFoundError) and full.is_symlink():
                exc = _Skip("broken symbolic link")
            # Not stored: the file is tried again next time (it may be fixed by then).
            tally.skipped.append((rel, _reason(exc)))
            if known is not None:
                self._delete_files([known.id])
            return

        digest = hashlib.sha256(data).hexdigest()
        if known is not None and digest == known.sha256:
            db.execute(
                "UPDATE files SET size = ?, mtime_ns = ? WHERE id = ?",
                (st.st_size, st.st_mtime_ns, known.id),
            )
            _count_unchanged(rel, known, tally)
            return

        chunks: list[Chunk] = []
        reason: str | None = None
        if st.st_size > MAX_FILE_BYTES or len(data) > MAX_FILE_BYTES:
            reason = f"larger than {MAX_FILE_BYTES // 1_000_000} MB"
        else:
            chunks, reason = _chunks(data, full.suffix.lower())
        # Skipped files are remembered with their reason, so they are not read again
        # until they change.
        if reason is not None:
            tally.skipped.append((rel, reason))
        elif known is None or known.skipped is not None:
            tally.added += 1
        else:
            tally.updated += 1

        if known is None:
            cur = db.execute(
                "INSERT INTO files (folder_id, relpath, size, mtime_ns, sha256, chunks, skipped)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (folder_id, rel, st.st_size, st.st_mtime_ns, digest, len(chunks), reason),
            )
            assert cur.lastrowid is not None
            file_id = cur.lastrowid
        else:
            file_id = known.id
            db.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
            db.execute(
                "UPDATE files SET size = ?, mtime_ns = ?, sha256 = ?, chunks = ?, skipped = ?"
                " WHERE id = ?",
                (st.st_size, st.st_mtime_ns, digest, len(chunks), reason, file_id),
            )
        db.executemany(
            "INSERT INTO chunks (file_id, line, page, starts, text) VALUES (?, ?, ?, ?, ?)",
            [(file_id, c.line, c.page, store.encode_starts(c.starts), c.text) for c in chunks],
        )
        tally.chunks += len(chunks)

    def _forget_stats(self) -> None:
        self._vectors = None
        self._df.clear()
        self._total = None

    def _delete_files(self, file_ids: Sequence[int]) -> None:
        db = self._db
        for file_id in file_ids:
            db.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
            db.execute("DELETE FROM files WHERE id = ?", (file_id,))

    def _folder_id(self, root: Path, *, create: bool = False) -> int | None:
        row = self._db.execute("SELECT id FROM folders WHERE path = ?", (str(root),)).fetchone()
        if row is not None:
            return int(row[0])
        if not create:
            return None
        cur = self._db.execute(
            "INSERT INTO folders (path, indexed_at) VALUES (?, ?)", (str(root), time.time())
        )
        return cur.lastrowid

    def remove(self, folder: Path | str) -> bool:
        """Forget a folder and everything indexed from it. False if it was not indexed."""
        root = resolve_folder(folder)
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                folder_id = self._folder_id(root)
                if folder_id is not None:
                    ids = [
                        r[0]
                        for r in db.execute(
                            "SELECT id FROM files WHERE folder_id = ?", (folder_id,)
                        )
                    ]
                    self._delete_files(ids)
                    db.execute("DELETE FROM folders WHERE id = ?", (folder_id,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._forget_stats()
        return folder_id is not None

    # -- reading -----------------------------------------------------------------

    def folders(self) -> list[FolderInfo]:
        """Every indexed folder with its counts, in path order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT fo.path, fo.indexed_at,"
                " COUNT(f.id) FILTER (WHERE f.skipped IS NULL),"
                " COALESCE(SUM(f.chunks), 0),"
                " COUNT(f.id) FILTER (WHERE f.skipped IS NOT NULL)"
                " FROM folders fo LEFT JOIN files f ON f.folder_id = fo.id"
                " GROUP BY fo.id ORDER BY fo.path"
            ).fetchall()
        return [
            FolderInfo(Path(p), files=n, chunks=c, skipped=s, indexed_at=t)
            for p, t, n, c, s in rows
        ]

    def search(
        self,
        query: str,
        k: int = 5,
        folder: Path | str | Sequence[Path | str] | None = None,
    ) -> list[Hit]:
        """The ``k`` best passages for free-text ``query``, optionally only from the
        given folder or folders. BM25, fused with cosine similarity when the index has
        an embedder. Any text is a valid query; no words, no hits."""
        if k < 1:
            return []
        scope = None
        if folder is not None:
            wanted = [folder] if isinstance(folder, str | Path) else list(folder)
            scope = [str(resolve_folder(f)) for f in wanted]
        terms = store.query_terms(query)
        if self.embedder is None:
            return self._lexical(terms, k, scope)
        from ahora.docs.embeddings import fuse

        lexical = self._lexical(terms, _CANDIDATES, scope)
        semantic = self._semantic(query, _CANDIDATES, scope) if query.strip() else []
        return fuse([lexical, semantic], k)

    def _lexical(self, terms: list[str], k: int, scope: list[str] | None) -> list[Hit]:
        """BM25 over passages with all the terms first; with any of them if too few.

        Ranking costs time in proportion to the passages that match, so the narrower
        AND query goes first (passages with every word nearly always rank first under
        OR too), and terms in more than half the passages are left out of the ranking
        (see ``_useful_terms``). Passages that share only such a common word are
        not returned: BM25 scores them about zero, and "score 0" hits padding a short
        list read as matches they are not (fewer hits beat unrelated ones).
        """
        if not terms:
            return []
        useful = self._useful_terms(terms)
        hits: list[Hit] = []
        if len(useful) > 1:
            hits = self._bm25(" AND ".join(useful), k, scope)
        if len(hits) < k:
            hits = self._bm25(" OR ".join(useful), k, scope)
        return hits

    def _useful_terms(self, terms: list[str]) -> list[str]:
        """Drop terms found in more than half the passages while rarer ones remain.

        FTS5's BM25 gives such terms an IDF of 1e-6, so they do not change the
        ranking; they only make the query slow. Document frequencies are cached
        until the index changes.
        """
        if len(terms) < 2:
            return terms
        with self._lock:
            if self._total is None:
                (self._total,) = self._db.execute("SELECT count(*) FROM chunks").fetchone()
            for term in terms:
                if term not in self._df:
                    (self._df[term],) = self._db.execute(
                        "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (term,)
                    ).fetchone()
            half = (self._total or 0) / 2
            useful = [t for t in terms if self._df[t] <= half]
            if len(self._df) > 10_000:
                self._df.clear()
        return useful or [min(terms, key=lambda t: self._df.get(t, 0))]

    _HIT_COLUMNS = "c.id, fo.path, f.relpath, c.line, c.page, c.starts, c.text"
    _HIT_JOINS = " JOIN files f ON f.id = c.file_id JOIN folders fo ON fo.id = f.folder_id"

    def _bm25(self, match: str, k: int, scope: list[str] | None) -> list[Hit]:
        """Passages matching the FTS5 expression, best BM25 first."""
        sql = (
            f"SELECT {self._HIT_COLUMNS}, chunks_fts.rank,"
            " highlight(chunks_fts, 0, char(1), '')"
            " FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid"
            f"{self._HIT_JOINS} WHERE chunks_fts MATCH ?"
        )
        params: list[object] = [match]
        if scope is not None:
            sql += f" AND fo.path IN ({', '.join('?' * len(scope))})"
            params.extend(scope)
        sql += " ORDER BY chunks_fts.rank LIMIT ?"
        params.append(k)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        hits = []
        for cid, fo, rel, line, page, starts, text, rank, marked in rows:
            # Cite the line of the first matching word, not the chunk's first line.
            first = marked.find("\x01")
            if first >= 0 and line is not None:
                line = line_at(text, line, store.decode_starts(starts), first)
            hits.append(Hit(Path(fo), rel, line, page, text, -float(rank), cid))
        return hits

    def _semantic(self, query: str, k: int, scope: list[str] | None) -> list[Hit]:
        import numpy as np

        assert self.embedder is not None
        ids, folders, matrix = self._vector_table()
        if not len(ids):
            return []
        embed_query = getattr(self.embedder, "embed_query", None)  # see Embedder
        vector = embed_query(query) if embed_query else self.embedder.embed([query])[0]
        q = np.asarray(vector, dtype=np.float32)
        scores = matrix @ q
        if scope is not None:
            scores = np.where(np.isin(folders, scope), scores, -np.inf)
        top = np.argsort(-scores)[:k]
        top = top[np.isfinite(scores[top])]
        wanted = {int(ids[i]): float(scores[i]) for i in top}
        if not wanted:
            return []
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._HIT_COLUMNS} FROM chunks c{self._HIT_JOINS}"
                f" WHERE c.id IN ({', '.join('?' * len(wanted))})",
                list(wanted),
            ).fetchall()
        hits = [
            Hit(Path(fo), rel, line, page, text, wanted[cid], cid)
            for cid, fo, rel, line, page, _starts, text in rows
        ]
        return sorted(hits, key=lambda h: h.score, reverse=True)

    def _vector_table(self) -> tuple[Any, Any, Any]:
        """``(chunk ids, folder paths, unit vectors)`` of this embedder, cached."""
        import numpy as np

        assert self.embedder is not None
        if self._vectors is None:
            with self._lock:
                rows = self._db.execute(
                    "SELECT v.chunk_id, fo.path, v.vec FROM vectors v"
                    " JOIN chunks c ON c.id = v.chunk_id"
                    f"{self._HIT_JOINS} WHERE v.model = ?",
                    (self.embedder.name,),
                ).fetchall()
            ids = np.array([r[0] for r in rows], dtype=np.int64)
            folders = np.array([r[1] for r in rows], dtype=object)
            matrix = (
                np.vstack([np.frombuffer(r[2], dtype=np.float32) for r in rows])
                if rows
                else np.zeros((0, 1), dtype=np.float32)
            )
            self._vectors = (ids, folders, matrix)
        return self._vectors

    def _embed_missing(self, root: Path) -> None:
        """Embed this folder's chunks that have no vector for the embedder yet."""
        import numpy as np

        assert self.embedder is not None
        name = self.embedder.name
        with self._lock:
            todo = self._db.execute(
                "SELECT c.id, c.text FROM chunks c"
                f"{self._HIT_JOINS}"
                " LEFT JOIN vectors v ON v.chunk_id = c.id AND v.model = ?"
                " WHERE fo.path = ? AND v.chunk_id IS NULL ORDER BY c.id",
                (name, str(root)),
            ).fetchall()
        for start in range(0, len(todo), _EMBED_BATCH):
            batch = todo[start : start + _EMBED_BATCH]
            vectors = self.embedder.embed([text for _, text in batch])
            with self._lock, self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors (chunk_id, model, vec) VALUES (?, ?, ?)",
                    [
                        (cid, name, np.asarray(vec, dtype=np.float32).tobytes())
                        for (cid, _), vec in zip(batch, vectors, strict=True)
                    ],
                )
        self._vectors = None


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """``(relative path with /, full path)`` of every non-hidden file, sorted; links to
    folders are listed (to be reported as skipped), never followed."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and d not in _IGNORED_DIRS
        )
        base = Path(dirpath)
        linked = [d for d in dirnames if (base / d).is_symlink()]
        for name in sorted(filenames + linked):
            if name.startswith("."):
                continue
            full = base / name
            yield full.relative_to(root).as_posix(), full


def _count_unchanged(rel: str, known: _Known, tally: _Tally) -> None:
    if known.skipped is None:
        tally.unchanged += 1
    else:
        tally.skipped.append((rel, known.skipped))


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror.lower() if exc.strerror else type(exc).__name__
    return str(exc)


def _inside(root: Path, full: Path) -> Path:
    """The path to read for ``full``: itself, or where its symbolic link leads when that
    is inside ``root``. Links leading out of the folder, and anything under /proc, /sys
    or /dev, raise ``_Skip``: indexing stays inside the folder the user named."""
    path = full
    if full.is_symlink():
        path = full.resolve(strict=True)  # FileNotFoundError: a broken link
        if not path.is_relative_to(root):
            raise _Skip("symbolic link to outside the folder")
    if any(path.is_relative_to(tree) for tree in _SPECIAL_TREES):
        raise _Skip("a system file (/proc, /sys or /dev)")
    return path


def _special(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "symbolic link to a folder (not followed)"
    if stat.S_ISFIFO(mode):
        return "not a regular file (a FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "not a regular file (a device)"
    if stat.S_ISSOCK(mode):
        return "not a regular file (a socket)"
    return "not a regular file"


def _read_regular(path: Path, expected: os.stat_result) -> bytes:
    """At most ``MAX_FILE_BYTES + 1`` bytes of a regular file, opened without following
    a link and without blocking, and checked to be the file that was examined (a file
    swapped for a FIFO or a link in between is refused)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (
            expected.st_dev,
            expected.st_ino,
        ):
            raise _Skip("the file changed while it was being read")
        with os.fdopen(fd, "rb", closefd=False) as stream:
            return stream.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)


def _chunks(data: bytes, suffix: str) -> tuple[list[Chunk], str | None]:
    """The file's chunks, extracted in a worker process bounded in time and memory;
    or no chunks and the reason the file is skipped."""
    from ahora import worker
    from ahora.docs.extract import from_worker

    try:
        rows = worker.run(
            "ahora.docs.extract:chunks_for_worker",
            data,
            seconds=FILE_SECONDS,
            memory=FILE_MEMORY,
            preload="ahora.docs.extract",
            suffix=suffix,
        )
    except worker.WorkerTimeout:
        return [], f"took longer than {FILE_SECONDS:g} seconds to read"
    except MemoryError:
        return [], f"needs more than {FILE_MEMORY // 2**20} MB to read"
    except worker.WorkerCrashed:
        return [], "crashed the reader"
    except worker.WorkerError as exc:
        if exc.kind == "Unreadable":
            return [], exc.message
        if exc.kind == "RecursionError":
            return [], "too deeply nested"
        return [], f"cannot read it ({exc.kind})"
    return from_worker(rows), None
