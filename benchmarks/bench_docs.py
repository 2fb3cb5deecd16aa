"""Benchmark the document index: full index, unchanged re-index, query latency.

Generates 10,000 Markdown documents of about 5 KB (about 50 MB) in a temporary folder,
with a Zipf-like vocabulary so term frequencies look like real text, then prints:

- full index time            (goal: under 60 s)
- unchanged re-index time    (goal: under 2 s)
- query latency p50 and p95 over 200 varied queries (goal: p95 under 50 ms)
- database size

Run: /work/venv/bin/python benchmarks/bench_docs.py [--docs N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import tempfile
import time
from pathlib import Path

from ahora.docs import DocIndex

_COMMON = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "on",
    "that",
    "with",
    "as",
    "by",
    "this",
    "are",
    "from",
    "at",
    "be",
    "or",
    "an",
    "it",
    "was",
    "customer",
    "order",
    "refund",
    "policy",
    "team",
    "process",
    "system",
    "account",
    "service",
    "data",
    "report",
    "payment",
    "invoice",
    "shipping",
    "holiday",
    "leave",
    "security",
    "access",
    "review",
    "meeting",
    "budget",
]


def _vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = set(_COMMON)
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 11))))
    return sorted(words)


def _document(rng: random.Random, vocab: list[str], cum: list[float], n: int) -> str:
    parts = [f"# Document {n}: {' '.join(rng.choices(vocab, cum_weights=cum, k=4))}\n"]
    size = len(parts[0])
    line_words = 12
    while size < 5000:
        if rng.random() < 0.15:
            para = f"## {' '.join(rng.choices(vocab, cum_weights=cum, k=3)).title()}"
        else:
            words = rng.choices(vocab, cum_weights=cum, k=rng.randint(30, 90))
            lines = [" ".join(words[i : i + line_words]) for i in range(0, len(words), line_words)]
            para = "\n".join(lines).capitalize() + "."
        parts.append(para)
        size += len(para) + 2
    return "\n\n".join(parts) + "\n"


def generate(root: Path, count: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
    rng.shuffle(weights)
    for i, word in enumerate(_COMMON):  # keep common words common
        weights[vocab.index(word)] = 0.5 / (i + 1)
    cum = list(itertools.accumulate(weights))
    total = 0
    for n in range(count):
        folder = root / f"section{n % 50:02}"
        folder.mkdir(parents=True, exist_ok=True)
        text = _document(rng, vocab, cum, n)
        (folder / f"doc{n:05}.md").write_text(text, encoding="utf-8")
        total += len(text)
    return total


def queries(rng: random.Random, vocab: list[str], count: int = 200) -> list[str]:
    out = []
    shapes = [
        lambda: rng.choice(vocab),
        lambda: " ".join(rng.sample(vocab, 2)),
        lambda: " ".join(rng.sample(vocab, 4)),
        lambda: f"what is the {rng.choice(_COMMON)} {rng.choice(_COMMON)} for {rng.choice(vocab)}",
        lambda: f'"{rng.choice(vocab)}" AND NEAR({rng.choice(vocab)} *',
        lambda: " ".join(rng.sample(_COMMON, 3)),
    ]
    for i in range(count):
        out.append(shapes[i % len(shapes)]())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "corpus"
        db = Path(tmp) / "docs.sqlite"
        t0 = time.perf_counter()
        size = generate(root, args.docs)
        print(
            f"generated {args.docs} documents, {size / 1e6:.1f} MB in "
            f"{time.perf_counter() - t0:.1f} s"
        )

        with DocIndex(db) as index:
            full = index.add(root)
            print(
                f"full index:       {full.seconds:6.2f} s  (goal < 60 s)  "
                f"{full.added} files, {full.chunks} chunks, {full.skipped} skipped"
            )
            again = index.add(root)
            print(
                f"unchanged re-index: {again.seconds:4.2f} s  (goal < 2 s)  "
                f"{again.unchanged} unchanged, {again.chunks} chunks written"
            )

        rng = random.Random(11)
        vocab = _vocabulary(random.Random(7))
        qs = queries(rng, vocab)
        with DocIndex(db) as index:
            index.search("warm up")
            times = []
            hits = 0
            for q in qs:
                t = time.perf_counter()
                hits += bool(index.search(q, k=5))
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(
            f"query latency:    p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
            f"max {times[-1]:.1f} ms  (goal p95 < 50 ms); {hits}/{len(qs)} with hits"
        )
        wal = db.with_name(db.name + "-wal")
        extra = wal.stat().st_size if wal.exists() else 0
        print(f"database size:    {(db.stat().st_size + extra) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
