"""``ahora docs add`` against hostile folders and files (issue 9 item 9).

Indexing stays inside the folder the user named: links that lead out of it, devices,
FIFOs and /proc files are skipped and reported, never read. Hostile files are bounded
in bytes, pages, time and memory, and reported as skipped with the reason.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ahora.docs import DocIndex
from ahora.docs import extract as extract_module
from ahora.docs import index as index_module
from ahora.docs.extract import Block, chunk

SECRET = "AKIA-very-secret-credential-zebra"


@pytest.fixture
def index(tmp_path: Path) -> DocIndex:
    return DocIndex(tmp_path / "index.db")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "notes.md").write_text("# Notes\n\nThe harbour opens at dawn.\n")
    return root


def skipped(summary: index_module.IndexSummary) -> dict[str, str]:
    return dict(summary.skipped_files)


# --- staying inside the folder ---------------------------------------------------------------


def test_links_out_of_the_folder_are_skipped_and_reported(
    index: DocIndex, folder: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "credentials.txt"
    outside.write_text(f"aws_secret = {SECRET}\n")
    (folder / "creds.txt").symlink_to(outside)
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "relative.md").symlink_to(Path("..") / "credentials.txt")
    summary = index.add(folder)
    reasons = skipped(summary)
    for name in ("creds.txt", "passwd.txt", "relative.md"):
        assert reasons[name] == "symbolic link to outside the folder"
    assert index.search(SECRET) == [] and index.search("root") == []
    assert summary.added == 1


def test_links_inside_the_folder_are_read(index: DocIndex, folder: Path) -> None:
    (folder / "alias.md").symlink_to(folder / "notes.md")
    summary = index.add(folder)
    assert summary.added == 2 and summary.skipped == 0


def test_linked_folders_are_reported_not_followed(
    index: DocIndex, folder: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "private.md").write_text(f"{SECRET}\n")
    (folder / "linked").symlink_to(elsewhere)
    summary = index.add(folder)
    assert skipped(summary)["linked"] == "symbolic link to outside the folder"
    assert index.search(SECRET) == []


def test_special_files_are_skipped(index: DocIndex, folder: Path) -> None:
    os.mkfifo(folder / "pipe.txt")
    (folder / "null.txt").symlink_to("/dev/null")
    (folder / "environ.txt").symlink_to("/proc/self/environ")
    reasons = skipped(index.add(folder))
    assert reasons["pipe.txt"] == "not a regular file (a FIFO)"
    assert reasons["null.txt"] == "symbolic link to outside the folder"
    assert reasons["environ.txt"] == "symbolic link to outside the folder"


def test_system_trees_are_refused_even_when_named() -> None:
    with pytest.raises(index_module._Skip, match="system file"):
        index_module._inside(Path("/proc/self"), Path("/proc/self/environ"))


def test_a_file_swapped_after_the_check_is_refused(folder: Path) -> None:
    path = folder / "notes.md"
    before = os.stat(path)
    path.unlink()
    os.mkfifo(path)  # opened without blocking, then refused
    with pytest.raises(index_module._Skip, match="changed"):
        index_module._read_regular(path, before)


# --- hostile files: bytes, pages, time, memory ----------------------------------------------


def _repeated_page_pdf(references: int) -> bytes:
    """A PDF whose page tree lists the same page ``references`` times (121 KB at 20,000)."""
    stream = b"BT /F1 12 Tf 72 720 Td (Repeated page text) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b"3 0 R " * references + b"] /Count %d >>" % references,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_pdf_listing_one_page_20000_times_is_skipped_quickly(index: DocIndex, folder: Path) -> None:
    (folder / "bomb.pdf").write_bytes(_repeated_page_pdf(20_000))
    started = time.monotonic()
    summary = index.add(folder)
    assert time.monotonic() - started < 15
    assert skipped(summary)["bomb.pdf"] == "more than 2,000 pages (20,000)"


def test_repeated_pages_under_the_limit_are_read_once(index: DocIndex, folder: Path) -> None:
    (folder / "repeats.pdf").write_bytes(_repeated_page_pdf(1_500))
    summary = index.add(folder)
    assert summary.skipped == 0
    hits = index.search("repeated page text")
    assert len(hits) == 1 and hits[0].page == 1


def test_one_line_files_are_split_in_linear_time() -> None:
    line = ("word " * 2_000_000).strip()  # 10 MB, one line
    started = time.monotonic()
    chunks = chunk([Block(line, line=1)])
    assert time.monotonic() - started < 5  # quadratic slicing took minutes at this size
    assert all(len(c.text) <= extract_module.CHUNK_LIMIT for c in chunks)
    assert sum(len(c.text) for c in chunks) > 9_000_000


def test_files_past_the_byte_limit_are_skipped_unread(
    index: DocIndex, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "MAX_FILE_BYTES", 1_000)
    (folder / "big.txt").write_text("x " * 1_000)
    assert skipped(index.add(folder))["big.txt"] == "larger than 0 MB"


def test_slow_files_are_stopped_and_reported(
    index: DocIndex, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "FILE_SECONDS", 0.01)
    (folder / "slow.html").write_text("<p>word</p>" * 50_000)
    assert skipped(index.add(folder))["slow.html"] == "took longer than 0.01 seconds to read"


def test_memory_hungry_files_are_stopped_and_reported(
    index: DocIndex, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "FILE_MEMORY", 48 * 1024 * 1024)
    (folder / "huge.html").write_text("<p>word word</p>\n" * 400_000)  # 6.8 MB
    reason = skipped(index.add(folder))["huge.html"]
    assert reason == "needs more than 48 MB to read"
    assert index.search("harbour")  # the other files were indexed all the same
