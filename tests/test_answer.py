"""The Answer: what a run returns, as a dict and as Markdown."""

from __future__ import annotations

from ahora.answer import Answer


def test_answer_tolerates_sources_without_title_or_fetch_time() -> None:
    answer = Answer(text="See https://example.org/a", sources=[{"url": "https://example.org/a"}])  # type: ignore[typeddict-item]
    assert answer.to_dict()["sources"] == [{"url": "https://example.org/a", "title": ""}]
    assert "[https://example.org/a](https://example.org/a)" in answer._repr_markdown_()
