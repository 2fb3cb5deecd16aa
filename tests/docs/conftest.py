"""Fixtures for the document index tests: a small folder of real documents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ahora.docs import DocIndex

REFUNDS_MD = """\
# Handbook

Welcome to the team handbook.

## Refunds

Customers may ask for a refund within 30 days of purchase.
Digital goods are not refundable once downloaded.

## Holidays

Everyone gets 25 days of paid leave a year.
"""

SHIPPING_HTML = """\
<!doctype html>
<html>
<head><title>Shipping</title><style>p { color: red }</style>
<script>var zebracorn = 1;</script></head>
<body>
<nav>Home</nav>
<h1>Shipping</h1>
<p>We ship worldwide
with <b>express</b> couriers.</p>
<ul>
  <li>Parcel tracking is free.</li>
</ul>
</body>
</html>
"""


def make_pdf(path: Path, pages: list[str]) -> None:
    """A real PDF with one line of Helvetica text per page, written by hand."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_id = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        content_id = 4 + 2 * i
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R"
            f" /Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
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
    path.write_bytes(bytes(out))


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A folder with Markdown, text, HTML and PDF files."""
    root = tmp_path / "docs"
    (root / "handbook").mkdir(parents=True)
    (root / "handbook" / "refunds.md").write_text(REFUNDS_MD, encoding="utf-8")
    (root / "notes.txt").write_text(
        "Meeting notes\n\nThe quarterly budget review is on Friday.\n", encoding="utf-8"
    )
    (root / "shipping.html").write_text(SHIPPING_HTML, encoding="utf-8")
    make_pdf(
        root / "guide.pdf",
        ["Installation guide overview", "Configure the flux capacitor carefully"],
    )
    return root


@pytest.fixture
def index(tmp_path: Path) -> Iterator[DocIndex]:
    with DocIndex(tmp_path / "index.sqlite") as idx:
        yield idx
