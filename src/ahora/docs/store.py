"""The SQLite schema of the document index, and turning user text into safe FTS5 queries.

One database file (``docs.sqlite`` in the data directory) holds every indexed folder::

    folders(id, path UNIQUE, indexed_at)          absolute, resolved folder paths
    files(id, folder_id, relpath, size, mtime_ns, sha256, chunks, skipped)
    chunks(id, file_id, line, page, starts, text) the text, stored once; starts maps
                                                  offsets in text to source lines
    chunks_fts                                    FTS5 over chunks.text (external content,
                                                  kept in sync by triggers), BM25-ranked
    vectors(chunk_id, model, vec)                 optional embeddings (float32 bytes)

``files`` remembers size, mtime and hash so re-indexing an unchanged folder reads no
file. Skipped files are remembered too (``skipped`` holds the reason), so a binary
file is not read again until it changes. WAL mode lets a search run while another
process indexes.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from ahora.settings import private_file

__all__ = [
    "SCHEMA_VERSION",
    "connect",
    "decode_starts",
    "encode_starts",
    "fts_query",
    "query_terms",
]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS folders (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    indexed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    folder_id INTEGER NOT NULL REFERENCES folders(id),
    relpath TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    chunks INTEGER NOT NULL DEFAULT 0,
    skipped TEXT,
    UNIQUE (folder_id, relpath)
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id),
    line INTEGER,
    page INTEGER,
    starts TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_file ON chunks(file_id);
CREATE TABLE IF NOT EXISTS vectors (
    chunk_id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    vec BLOB NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text,
    content='chunks',
    content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
    DELETE FROM vectors WHERE chunk_id = old.id;
END;
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the index database at ``path``.

    The connection may be used from other threads (LangChain runs sync tools in a
    thread pool); ``DocIndex`` serialises access with a lock.
    """
    private_file(path)  # 0600 in a 0700 folder: the indexed documents' text is in it
    conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version != SCHEMA_VERSION:
        with conn:
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return conn


_WORD = re.compile(r"\w+")
_MAX_TERMS = 32
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def query_terms(text: str) -> list[str]:
    """The words of free text as quoted FTS5 strings, ready to join with AND or OR.

    Every word becomes a quoted string, so quotes, ``AND``/``OR``/``NEAR``, ``*``,
    ``:``, ``^`` and parentheses in the user's text are just words or nothing, never
    syntax. Common English words are dropped when other words remain, which keeps
    queries fast and rankings sharp. At most 32 distinct words are kept.
    """
    words: list[str] = []
    seen: set[str] = set()
    for match in _WORD.finditer(text.lower()):
        word = match.group().strip("_")
        if word and word not in seen:
            seen.add(word)
            words.append(word)
    content = [w for w in words if w not in _STOPWORDS]
    return [f'"{w}"' for w in (content or words)[:_MAX_TERMS]]


def fts_query(text: str) -> str | None:
    """One FTS5 MATCH expression for free text (its words OR-ed), or ``None``."""
    terms = query_terms(text)
    return " OR ".join(terms) if terms else None


def encode_starts(starts: tuple[tuple[int, int], ...]) -> str:
    """``((0, 12), (140, 15))`` as ``"0:12 140:15"``."""
    return " ".join(f"{offset}:{line}" for offset, line in starts)


def decode_starts(text: str) -> list[tuple[int, int]]:
    out = []
    for pair in text.split():
        offset, _, line = pair.partition(":")
        out.append((int(offset), int(line)))
    return out
