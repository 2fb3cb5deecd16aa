"""The search_docs tool: schema, text, artifact, failures, and index_for_ask."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import ToolMessage

from ahora.docs import DocIndex, NotAFolder
from ahora.tools.search_docs import index_for_ask, make_search_docs_tool


def _call(tool: object, **args: object) -> ToolMessage:
    call = {"type": "tool_call", "id": "call-1", "name": "search_docs", "args": args}
    message = tool.invoke(call)  # type: ignore[attr-defined]
    assert isinstance(message, ToolMessage)
    return message


def test_schema_comes_from_the_signature_and_docstring(index: DocIndex) -> None:
    tool = make_search_docs_tool(index=index)
    assert tool.name == "search_docs"
    assert "user's own documents" in tool.description
    props = tool.args
    assert set(props) == {"query", "max_results"}
    assert "Keywords" in props["query"]["description"]
    assert props["max_results"]["default"] == 5


def test_output_lists_citations_and_artifact_has_file_urls(index: DocIndex, docs: Path) -> None:
    index.add(docs)
    message = _call(make_search_docs_tool(index=index), query="paid leave", max_results=2)
    text = str(message.content)
    assert text.startswith("[1] handbook/refunds.md:12\n")
    assert "25 days of paid leave" in text
    sources = message.artifact["sources"]
    assert sources[0]["url"] == (docs.resolve() / "handbook/refunds.md").as_uri() + "#L12"
    assert sources[0]["title"] == "handbook/refunds.md:12"
    assert sources[0]["fetched_at"]
    assert len(sources) == text.count("\n[") + 1 <= 2


def test_pdf_hits_cite_pages(index: DocIndex, docs: Path) -> None:
    index.add(docs)
    message = _call(make_search_docs_tool(index=index), query="flux capacitor")
    assert str(message.content).startswith("[1] guide.pdf#page=2\n")
    assert message.artifact["sources"][0]["url"].endswith("/guide.pdf#page=2")


def test_max_results_is_clamped(index: DocIndex, tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(15):
        (root / f"d{i}.txt").write_text(f"Kiwi fact number {i}.\n")
    index.add(root)
    tool = make_search_docs_tool(index=index)
    assert len(_call(tool, query="kiwi", max_results=100).artifact["sources"]) == 10
    assert len(_call(tool, query="kiwi", max_results=0).artifact["sources"]) == 1


def test_no_match_and_nothing_indexed_are_messages(index: DocIndex, docs: Path) -> None:
    tool = make_search_docs_tool(index=index)
    nothing = _call(tool, query="refund")
    assert str(nothing.content).startswith("Error: no documents are indexed")
    assert nothing.artifact == {"sources": [], "error": nothing.content[len("Error: ") :]}

    index.add(docs)
    miss = _call(tool, query="xylophone")
    assert "No passage" in str(miss.content)
    assert miss.artifact == {"sources": []}
    empty = _call(tool, query="  ")
    assert str(empty.content).startswith("Error: the query is empty")
    hostile = _call(tool, query='NEAR( "refund* AND :')
    assert str(hostile.content).startswith("[1] handbook/refunds.md:")


def test_scoped_tool_only_sees_its_folders(index: DocIndex, docs: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "refund.txt").write_text("Other refund rules.\n")
    index.add(docs)
    index.add(other)
    tool = make_search_docs_tool([other], index=index)
    message = _call(tool, query="refund")
    assert [s["title"] for s in message.artifact["sources"]] == ["refund.txt:1"]


def test_index_for_ask_indexes_on_the_fly(isolated_env: Path, docs: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "refund.txt").write_text("Other refund rules.\n")
    from ahora.settings import get_settings

    index = DocIndex(get_settings().docs_db)
    index.add(other)
    tool = index_for_ask(docs, index=index)
    assert (isolated_env / "docs.sqlite").is_file()
    message = _call(tool, query="refund")
    assert {s["title"].split(":")[0] for s in message.artifact["sources"]} == {
        "handbook/refunds.md"
    }
    with pytest.raises(NotAFolder):
        index_for_ask(tmp_path / "missing", index=DocIndex(tmp_path / "d.sqlite"))
