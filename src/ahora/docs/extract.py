"""From a file's bytes to chunks of text that remember where they came from.

Two steps, both pure functions over bytes and strings (no database, no file system):

- ``extract(data, suffix)`` turns a file into ``Block``s: paragraphs or headings with
  the 1-based source line they start on (Markdown, plain text, HTML) or the 1-based
  page they sit on (PDF). Files that are not documents raise ``Unreadable`` with a
  short reason, which the indexer counts as "skipped".
- ``chunk(blocks)`` packs consecutive blocks into chunks of about 800-1,500 characters,
  starting a new chunk at a heading once the current one has some body, and never
  letting a chunk cross a PDF page, so every chunk has one line or one page to cite.

HTML keeps the source line of each block element (lxml's ``sourceline``); PDFs go
through pypdf, page by page, and are cited as ``guide.pdf#page=3`` (the PDF "open
parameters" fragment, which browsers and viewers understand in ``file://`` links).
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHUNK_LIMIT",
    "CHUNK_TARGET",
    "HTML_SUFFIXES",
    "MAX_PDF_PAGES",
    "PDF_SUFFIXES",
    "TEXT_SUFFIXES",
    "Block",
    "Chunk",
    "Unreadable",
    "chunk",
    "chunks_for_worker",
    "extract",
    "line_at",
]

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".txt", ".text", ".rst", ".org", ""})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
PDF_SUFFIXES = frozenset({".pdf"})

CHUNK_TARGET = 800
"""A chunk is closed once it holds at least this many characters."""
CHUNK_LIMIT = 1500
"""No chunk holds more than this many characters (longer paragraphs are split)."""
_HEADING_BREAK = 200
"""A heading starts a new chunk when the current one already has this much text."""


MAX_PDF_PAGES = 2_000
"""PDFs with more pages are skipped (a page tree can list one page thousands of times)."""


class Unreadable(Exception):
    """The file is not a document we can index; the message says why, briefly."""


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph or heading, with where it starts in the source."""

    text: str
    line: int | None = None
    page: int | None = None
    heading: bool = False


@dataclass(frozen=True, slots=True)
class Chunk:
    """The unit that is indexed and returned by searches.

    ``starts`` maps offsets in ``text`` to source lines: ``(offset, line)`` for each
    block the chunk is made of, so a search can cite the line of the passage that
    matched rather than the chunk's first line (see ``line_at``).
    """

    text: str
    line: int | None = None
    page: int | None = None
    starts: tuple[tuple[int, int], ...] = ()

    def line_at(self, offset: int) -> int | None:
        """The source line of the character at ``offset`` (``line`` if unknown)."""
        return line_at(self.text, self.line, self.starts, offset)


def line_at(
    text: str, line: int | None, starts: Iterable[tuple[int, int]], offset: int
) -> int | None:
    """The source line of ``text[offset]``: the block it falls in, plus its newlines."""
    best: tuple[int, int] | None = None
    for start in starts:
        if start[0] > offset:
            break
        best = start
    if best is None:
        return line
    return best[1] + text.count("\n", best[0], offset)


def extract(data: bytes, suffix: str) -> list[Block]:
    """The blocks of a file, chosen by its (lower-case) suffix; unknown suffixes are
    read as plain text when they look like text. Raises ``Unreadable``."""
    if suffix in PDF_SUFFIXES:
        return _pdf_blocks(data)
    text = _decode(data)
    if suffix in HTML_SUFFIXES:
        return _html_blocks(text)
    return _text_blocks(text)


def chunks_for_worker(payload: bytes, *, suffix: str) -> list[list[Any]]:
    """``chunk(extract(...))`` as :func:`ahora.worker.run` calls it: bytes in, JSON out
    (``[text, line, page, starts]`` per chunk). ``Unreadable`` comes back by name."""
    return [
        [c.text, c.line, c.page, [list(s) for s in c.starts]]
        for c in chunk(extract(payload, suffix))
    ]


def from_worker(rows: list[list[Any]]) -> list[Chunk]:
    """The chunks :func:`chunks_for_worker` sent, rebuilt."""
    return [
        Chunk(str(text), line, page, tuple((int(a), int(b)) for a, b in starts))
        for text, line, page, starts in rows
    ]


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise Unreadable("binary file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Legacy 8-bit text (Windows-1252) still reads; anything else is not text.
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise Unreadable("not UTF-8 or Windows-1252 text") from None
    head = text[:8192]
    controls = sum(1 for ch in head if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > len(head) // 100:
        raise Unreadable("binary file")
    return text


# -- plain text and Markdown -------------------------------------------------------

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def _text_blocks(text: str) -> list[Block]:
    """Paragraphs split on blank lines (not inside code fences); ATX headings alone."""
    blocks: list[Block] = []
    para: list[str] = []
    start = 0
    in_fence = False

    def flush() -> None:
        if para:
            blocks.append(Block("\n".join(para).strip(), line=start))
            para.clear()

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            if not line.strip():
                flush()
                continue
            if _HEADING.match(line):
                flush()
                blocks.append(Block(line.strip(), line=number, heading=True))
                continue
        if not para:
            start = number
        para.append(line)
    flush()
    return [b for b in blocks if b.text]


# -- HTML ---------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "br",
        "caption",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "html",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "title",
        "tr",
        "ul",
    ]
)
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "title"})
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object"})
_SPACES = re.compile(r"\s+")


def _html_blocks(text: str) -> list[Block]:
    """Text of block elements, each with the source line where the element starts."""
    import lxml.etree
    import lxml.html

    if not text.strip():
        return []
    try:
        root = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise Unreadable(f"cannot parse HTML: {exc}") from None

    blocks: list[Block] = []
    parts: list[str] = []
    state: dict[str, int | bool | None] = {"line": None, "heading": False}

    def add(fragment: str | None, line: int | None) -> None:
        if fragment and fragment.strip():
            if not parts:
                state["line"] = line
            parts.append(fragment)

    def flush() -> None:
        joined = _SPACES.sub(" ", "".join(parts)).strip()
        if joined:
            line = state["line"]
            blocks.append(
                Block(
                    joined,
                    line=line if isinstance(line, int) else None,
                    heading=bool(state["heading"]),
                )
            )
        parts.clear()
        state["heading"] = False

    walker = lxml.etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag.lower() if isinstance(el.tag, str) else None
        if event == "start":
            if tag is None or tag in _SKIP_TAGS:
                walker.skip_subtree()
                continue
            if tag in _BLOCK_TAGS:
                flush()
                state["heading"] = tag in _HEADING_TAGS
            add(el.text, el.sourceline)
        else:
            if tag in _BLOCK_TAGS:
                flush()
            parent = el.getparent()
            if parent is not None:
                # The tail belongs to the parent's flow; its line is about where el ends.
                add(el.tail, el.sourceline)
    flush()
    return blocks


# -- PDF ----------------------------------------------------------------------------


def _pdf_blocks(data: bytes) -> list[Block]:
    """One run of blocks per page: paragraphs where the text has blank lines, else lines."""
    try:
        import pypdf
        from pypdf.errors import PyPdfError
    except ImportError:  # pragma: no cover - pypdf is a dependency
        raise Unreadable("PDF support needs the pypdf package") from None

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Unreadable("encrypted PDF")
        count = len(reader.pages)
        if count > MAX_PDF_PAGES:
            raise Unreadable(f"more than {MAX_PDF_PAGES:,} pages ({count:,})")
        pages = _distinct(reader.pages)
    except Unreadable:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise Unreadable(f"cannot read PDF: {exc}") from None

    blocks: list[Block] = []
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception:  # one broken page must not lose the others
            continue
        blocks.extend(Block(b.text, page=number) for b in _text_blocks(text))
    return blocks


def _distinct(pages: Iterable[Any]) -> list[Any]:
    """Each page object once: a hostile page tree may list the same page many times."""
    seen: set[tuple[int, int]] = set()
    kept: list[Any] = []
    for page in pages:
        ref = getattr(page, "indirect_reference", None)
        key = (ref.idnum, ref.generation) if ref is not None else (id(page), -1)
        if key not in seen:
            seen.add(key)
            kept.append(page)
    return kept


# -- chunking -----------------------------------------------------------------------


def chunk(blocks: Iterable[Block]) -> list[Chunk]:
    """Pack blocks into chunks of ``CHUNK_TARGET``..``CHUNK_LIMIT`` characters."""
    chunks: list[Chunk] = []
    current: list[Block] = []
    size = 0

    def flush() -> None:
        nonlocal size
        if current:
            first = current[0]
            text = "\n\n".join(b.text for b in current)
            starts: list[tuple[int, int]] = []
            offset = 0
            for b in current:
                if b.line is not None:
                    starts.append((offset, b.line))
                offset += len(b.text) + 2
            chunks.append(Chunk(text, line=first.line, page=first.page, starts=tuple(starts)))
            current.clear()
            size = 0

    for block in _split_long(blocks):
        if current and (
            size >= CHUNK_TARGET
            or size + len(block.text) + 2 > CHUNK_LIMIT
            or block.page != current[0].page
            or (block.heading and size >= _HEADING_BREAK)
        ):
            flush()
        current.append(block)
        size += len(block.text) + (2 if size else 0)
    flush()
    return chunks


def _split_long(blocks: Iterable[Block]) -> Iterator[Block]:
    """Blocks no longer than ``CHUNK_LIMIT``: split by lines, then at spaces."""
    for block in blocks:
        if len(block.text) <= CHUNK_LIMIT:
            yield block
            continue
        for offset, piece in enumerate(block.text.split("\n")):
            line = None if block.line is None else block.line + offset
            # Walk an index rather than re-slicing the rest of the line each time: a
            # 49 MB one-line file was quadratic that way (299 s).
            at, end = 0, len(piece)
            while end - at > CHUNK_LIMIT:
                cut = piece.rfind(" ", at, at + CHUNK_LIMIT)
                cut = cut if cut > at + CHUNK_LIMIT // 2 else at + CHUNK_LIMIT
                yield Block(piece[at:cut], line=line, page=block.page)
                at = cut
                while at < end and piece[at].isspace():
                    at += 1
            rest = piece[at:]
            if rest.strip():
                yield Block(rest, line=line, page=block.page)
