"""DocIndex: indexing Markdown, text, HTML and PDF; citations; incremental re-indexing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ahora.docs import DocIndex, NotAFolder
from ahora.errors import ConfigurationError


def _bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the files the indexer reads."""
    from ahora.docs import index as index_module

    seen: list[str] = []
    original = index_module._read_regular

    def counting(path: Path, expected: object) -> bytes:
        seen.append(path.name)
        return original(path, expected)  # type: ignore[arg-type]

    monkeypatch.setattr(index_module, "_read_regular", counting)
    return seen


def test_indexes_markdown_text_html_and_pdf(index: DocIndex, docs: Path) -> None:
    summary = index.add(docs)
    assert (summary.added, summary.updated, summary.unchanged) == (4, 0, 0)
    assert (summary.removed, summary.skipped) == (0, 0)
    assert summary.chunks >= 4
    assert summary.folder == docs.resolve()

    assert [h.citation for h in index.search("quarterly budget")] == ["notes.txt:3"]
    assert [h.citation for h in index.search("express couriers")] == ["shipping.html:8"]
    assert [h.citation for h in index.search("parcel tracking")] == ["shipping.html:11"]
    assert [h.citation for h in index.search("flux capacitor")] == ["guide.pdf#page=2"]
    assert [h.citation for h in index.search("installation overview")] == ["guide.pdf#page=1"]


def test_citations_point_at_the_matching_line(index: DocIndex, docs: Path) -> None:
    index.add(docs)
    (hit,) = index.search("paid leave")
    assert hit.citation == "handbook/refunds.md:12"
    assert hit.uri == (docs.resolve() / "handbook" / "refunds.md").as_uri() + "#L12"
    assert "25 days of paid leave" in hit.text
    assert hit.score > 0
    assert index.search("digital goods downloaded")[0].citation == "handbook/refunds.md:8"
    # Stemming: "refunding" finds the "Refunds" heading, the first matching line.
    assert index.search("refunding")[0].citation == "handbook/refunds.md:5"
    pdf = index.search("flux")[0]
    assert pdf.uri.endswith("/guide.pdf#page=2")


def test_html_scripts_and_styles_are_not_indexed(index: DocIndex, docs: Path) -> None:
    index.add(docs)
    assert index.search("zebracorn") == []
    assert index.search("color red") == []


def test_reindexing_unchanged_folder_reads_nothing(
    index: DocIndex, docs: Path, reads: list[str]
) -> None:
    index.add(docs)
    assert len(reads) == 4
    reads.clear()
    summary = index.add(docs)
    assert (summary.added, summary.updated, summary.unchanged, summary.chunks) == (0, 0, 4, 0)
    assert reads == []


def test_touched_but_identical_file_is_hashed_not_reindexed(
    index: DocIndex, docs: Path, reads: list[str]
) -> None:
    index.add(docs)
    reads.clear()
    _bump_mtime(docs / "notes.txt")
    summary = index.add(docs)
    assert reads == ["notes.txt"]
    assert (summary.updated, summary.unchanged, summary.chunks) == (0, 4, 0)
    reads.clear()
    assert index.add(docs).unchanged == 4
    assert reads == []  # the new mtime was remembered


def test_modified_file_is_reindexed(index: DocIndex, docs: Path) -> None:
    index.add(docs)
    notes = docs / "notes.txt"
    notes.write_text("Meeting notes\n\nThe offsite moves to Lisbon.\n", encoding="utf-8")
    _bump_mtime(notes)
    summary = index.add(docs)
    assert (summary.added, summary.updated, summary.unchanged) == (0, 1, 3)
    assert [h.citation for h in index.search("Lisbon offsite")] == ["notes.txt:3"]
    assert index.search("quarterly budget") == []


def test_deleted_file_disappears_from_results(index: DocIndex, docs: Path) -> None:
    index.add(docs)
    (docs / "handbook" / "refunds.md").unlink()
    summary = index.add(docs)
    assert (summary.removed, summary.unchanged) == (1, 3)
    assert index.search("refund") == []
    assert index.folders()[0].files == 3


def test_new_file_is_added(index: DocIndex, docs: Path) -> None:
    index.add(docs)
    (docs / "handbook" / "security.md").write_text("# Security\n\nRotate keys monthly.\n")
    summary = index.add(docs)
    assert (summary.added, summary.unchanged) == (1, 4)
    assert index.search("rotate keys")[0].citation == "handbook/security.md:3"


def test_bad_files_are_skipped_and_counted(index: DocIndex, docs: Path, reads: list[str]) -> None:
    (docs / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
    (docs / "legacy.txt").write_bytes(b"\x81\x8d\x8f\x90\x9d not text")
    (docs / "dangling.md").symlink_to(docs / "nowhere.md")
    os.mkfifo(docs / "pipe.md")  # reading it would block forever
    (docs / "folder.md").mkdir()  # a directory named like a file is walked, not read
    (docs / "folder.md" / "inner.md").write_text("Inner page about walruses.\n")

    summary = index.add(docs)
    assert summary.added == 5
    assert summary.skipped == 4
    reasons = dict(summary.skipped_files)
    assert reasons == {
        "dangling.md": "broken symbolic link",
        "legacy.txt": "not UTF-8 or Windows-1252 text",
        "photo.png": "binary file",
        "pipe.md": "not a regular file (a FIFO)",
    }
    assert index.search("walruses")[0].citation == "folder.md/inner.md:1"

    # Skipped files stay skipped, and the binary ones are not read again.
    reads.clear()
    again = index.add(docs)
    assert (again.skipped, again.unchanged) == (4, 5)
    assert reads == []
    assert index.folders()[0].skipped == 2  # the ones remembered: png and legacy.txt


def test_file_that_turns_binary_loses_its_passages(index: DocIndex, docs: Path) -> None:
    index.add(docs)
    notes = docs / "notes.txt"
    notes.write_bytes(b"\x00\x01\x02 quarterly budget")
    _bump_mtime(notes)
    summary = index.add(docs)
    assert (summary.updated, summary.skipped) == (0, 1)
    assert index.search("quarterly budget") == []


def test_windows_1252_text_is_read(index: DocIndex, docs: Path) -> None:
    (docs / "menu.txt").write_bytes("Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e".encode("cp1252"))
    assert index.add(docs).added == 5
    assert index.search("cafe creme")[0].citation == "menu.txt:1"


def test_hidden_files_and_folders_are_ignored(index: DocIndex, docs: Path) -> None:
    (docs / ".git").mkdir()
    (docs / ".git" / "notes.md").write_text("secret gitdir content")
    (docs / ".draft.md").write_text("secret hidden content")
    assert index.add(docs).added == 4
    assert index.search("secret") == []


def test_missing_folder_is_a_clear_error(index: DocIndex, tmp_path: Path, docs: Path) -> None:
    with pytest.raises(NotAFolder, match="does not exist"):
        index.add(tmp_path / "nope")
    with pytest.raises(NotAFolder, match="is not a folder"):
        index.add(docs / "notes.txt")
    assert issubclass(NotAFolder, ConfigurationError)
    assert index.folders() == []


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '"refund',
        "AND",
        "refund AND",
        "OR OR OR",
        "NOT",
        "NEAR(",
        "NEAR(refund budget, 2)",
        "*",
        "refund*",
        "a:b",
        "text:refund",
        "^refund",
        "-refund",
        "(refund",
        "refund)",
        "{text}: refund",
        "refund'; DROP TABLE chunks; --",
        "",
        "   ",
        "\x00",
        "x" * 10_000,
        "refund " * 1500,
        " ".join(f"w{i}" for i in range(2000)),
    ],
)
def test_hostile_queries_never_raise(index: DocIndex, docs: Path, query: str) -> None:
    index.add(docs)
    hits = index.search(query)
    assert len(hits) <= 5
    if "refund" in query:
        assert hits[0].path == "handbook/refunds.md"
    assert index.search("paid leave")  # the index is still intact


def test_search_ranks_and_limits(index: DocIndex, tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(12):
        (root / f"doc{i:02}.md").write_text(f"Document {i} mentions invoices.\n")
    (root / "best.md").write_text("Invoices, invoices: all about invoices and invoice due dates.\n")
    index.add(root)
    hits = index.search("invoice due dates", k=3)
    # Only best.md has the words that tell passages apart ("due dates"); the others
    # share only "invoices", found in every passage: not padded in with score 0.
    assert [h.path for h in hits] == ["best.md"] and hits[0].score > 0
    ranked = index.search("document invoices", k=3)
    assert len(ranked) == 3 and ranked[0].score >= ranked[1].score >= ranked[2].score
    assert index.search("invoice", k=0) == []
    assert len(index.search("invoices", k=50)) == 13


def test_folders_remove_and_scoped_search(index: DocIndex, docs: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "refunds.txt").write_text("Refund rules for the other shop.\n")
    index.add(docs)
    index.add(other)

    listing = {f.path: f for f in index.folders()}
    assert set(listing) == {docs.resolve(), other.resolve()}
    assert listing[docs.resolve()].files == 4
    assert listing[docs.resolve()].chunks >= 4
    assert listing[other.resolve()].files == 1

    assert {h.path for h in index.search("refund")} == {"handbook/refunds.md", "refunds.txt"}
    assert [h.path for h in index.search("refund", folder=other)] == ["refunds.txt"]
    assert [h.path for h in index.search("refund", folder=[str(docs)])] == ["handbook/refunds.md"]

    assert index.remove(docs) is True
    assert index.remove(docs) is False
    assert [h.path for h in index.search("refund")] == ["refunds.txt"]
    assert [f.path for f in index.folders()] == [other.resolve()]


def test_index_persists_across_instances(tmp_path: Path, docs: Path) -> None:
    with DocIndex(tmp_path / "db.sqlite") as first:
        first.add(docs)
    with DocIndex(tmp_path / "db.sqlite") as second:
        assert second.add(docs).unchanged == 4
        assert second.search("paid leave")[0].citation == "handbook/refunds.md:12"


def test_the_settings_database_lives_in_ahora_home(isolated_env: Path, docs: Path) -> None:
    from ahora.settings import get_settings

    with DocIndex(get_settings().docs_db) as index:
        index.add(docs)
    assert (isolated_env / "docs.sqlite").is_file()


def test_search_does_not_pad_with_passages_sharing_only_a_common_word(
    index: DocIndex, tmp_path: Path
) -> None:
    """``ahora docs search`` showed "score 0" hits that shared only a word found in
    most passages; fewer hits are better than unrelated ones."""
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(6):
        (folder / f"note{i}.md").write_text(f"# Note {i}\n\nThe office plan for week {i}.\n")
    (folder / "parking.md").write_text("# Parking\n\nThe office garage opens at seven.\n")
    index.add(folder)
    hits = index.search("office garage", k=5)
    assert [h.path for h in hits] == ["parking.md"]
    assert all(h.score > 0 for h in hits)
