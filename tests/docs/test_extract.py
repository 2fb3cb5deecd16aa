"""From bytes to blocks and chunks: lines, pages, sizes."""

from __future__ import annotations

import pytest

from ahora.docs.extract import CHUNK_LIMIT, CHUNK_TARGET, Block, Unreadable, chunk, extract


def test_markdown_paragraphs_headings_and_fences() -> None:
    text = "# Title\n\nFirst para\nstill first.\n\n```\ncode\n\nmore code\n```\n\n## Next\nBody\n"
    blocks = extract(text.encode(), ".md")
    assert [(b.text.splitlines()[0], b.line, b.heading) for b in blocks] == [
        ("# Title", 1, True),
        ("First para", 3, False),
        ("```", 6, False),
        ("## Next", 12, True),
        ("Body", 13, False),
    ]
    assert "more code" in blocks[2].text  # a blank line inside a fence does not split


def test_chunks_stay_within_limits_and_map_lines() -> None:
    paragraphs = [f"Paragraph {i} " + "word " * 60 for i in range(40)]
    text = "\n\n".join(paragraphs)
    chunks = chunk(extract(text.encode(), ".txt"))
    assert len(chunks) > 5
    assert all(len(c.text) <= CHUNK_LIMIT for c in chunks)
    assert all(len(c.text) >= CHUNK_TARGET for c in chunks[:-1])
    for c in chunks:
        offset = c.text.rindex("Paragraph")  # the last paragraph of the chunk
        number = int(c.text[offset:].split()[1])
        assert c.line_at(offset) == 2 * number + 1  # paragraph n starts on line 2n+1


def test_very_long_lines_are_split() -> None:
    text = "intro\n" + "x" * 5000 + "\n" + ("y " * 2000)
    chunks = chunk(extract(text.encode(), ".txt"))
    assert all(len(c.text) <= CHUNK_LIMIT for c in chunks)
    assert {c.line for c in chunks} >= {1, 2, 3}


def test_headings_start_new_chunks_once_there_is_body() -> None:
    body = "text " * 60
    text = f"# A\n\n{body}\n\n# B\n\n{body}\n"
    chunks = chunk(extract(text.encode(), ".md"))
    assert [c.line for c in chunks] == [1, 5]


def test_pages_are_never_mixed() -> None:
    blocks = [Block("one", page=1), Block("two", page=2), Block("three", page=2)]
    assert [(c.text, c.page) for c in chunk(blocks)] == [("one", 1), ("two\n\nthree", 2)]


def test_html_lines_and_skipped_elements() -> None:
    html = (
        b"<html><body>\n<h2>Prices</h2>\n<p>Tea\ncosts <i>two</i> euros.</p>\n"
        b"<!-- hidden -->\n<div>Coffee</div></body></html>"
    )
    blocks = extract(html, ".html")
    assert [(b.text, b.line, b.heading) for b in blocks] == [
        ("Prices", 2, True),
        ("Tea costs two euros.", 3, False),
        ("Coffee", 6, False),
    ]


@pytest.mark.parametrize(
    ("data", "suffix", "reason"),
    [
        (b"\x00\x01binary", ".md", "binary file"),
        (b"\x81\x8d\x8f", ".txt", "not UTF-8"),
        (b"%PDF-1.4 garbage", ".pdf", "cannot read PDF"),
        (b"\x01\x02\x03\x04\x05\x06 mostly control characters \x07\x08", ".dat", "binary"),
    ],
)
def test_unreadable_inputs(data: bytes, suffix: str, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        extract(data, suffix)


def test_empty_inputs_give_no_blocks() -> None:
    assert extract(b"", ".md") == []
    assert extract(b"  \n", ".html") == []
    assert chunk([]) == []
