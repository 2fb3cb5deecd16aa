"""``search_docs``: the LangChain tool that lets an agent search the user's documents.

``make_search_docs_tool`` builds it over a ``DocIndex`` (the data directory's is
``DocIndex(settings.docs_db)``), optionally scoped to some folders; ``index_for_ask``
indexes a folder on the fly (incrementally, in the same database) and returns the tool
scoped to it, for ``ahora ask --docs DIR``; ``indexed_docs_tools`` is the tool
registry's source: the tool over the whole index once ``ahora docs add`` has put a
folder in it. The text
lists passages as ``[1] handbook/refunds.md:12`` followed by the passage; the
artifact's sources are ``file://`` URLs with ``#L12`` or ``#page=3`` fragments.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from langchain_core.tools import BaseTool, tool

from ahora.docs.index import DocIndex, Hit
from ahora.errors import ToolFailure
from ahora.tools._common import Artifact, failures_as_messages, source

__all__ = ["format_hits", "index_for_ask", "indexed_docs_tools", "make_search_docs_tool"]

MAX_RESULTS = 10


def format_hits(hits: Sequence[Hit]) -> str:
    """``[n] citation`` then the passage, one block per hit."""
    return "\n\n".join(f"[{n}] {hit.citation}\n{hit.text.strip()}" for n, hit in enumerate(hits, 1))


def make_search_docs_tool(folders: Sequence[Path] | None = None, *, index: DocIndex) -> BaseTool:
    """The ``search_docs`` tool over ``index``, searching only ``folders`` when given,
    else every indexed folder."""
    docs = index
    scope = list(folders) if folders else None

    @tool("search_docs", response_format="content_and_artifact", parse_docstring=True)
    @failures_as_messages
    def search_docs(query: str, max_results: int = 5) -> tuple[str, Artifact]:
        """Search the user's own documents (notes, handbooks, manuals, PDFs) on this machine.

        Use it for questions about the user's files or organisation. Cite passages by
        the reference shown in brackets, e.g. handbook/refunds.md:12.

        Args:
            query: Keywords to look for, e.g. "refund policy digital goods".
            max_results: How many passages to return, 1 to 10.
        """
        if not query.strip():
            raise ToolFailure("the query is empty; give a few keywords")
        hits = docs.search(query, k=max(1, min(max_results, MAX_RESULTS)), folder=scope)
        if not hits:
            if not docs.folders():
                raise ToolFailure(
                    "no documents are indexed; the user can add a folder with `ahora docs add DIR`"
                )
            return (
                f"No passage in the user's documents matches {query!r}. Try other words.",
                {"sources": []},
            )
        return format_hits(hits), {"sources": [source(h.uri, h.citation) for h in hits]}

    return search_docs


def index_for_ask(folder: Path, *, index: DocIndex) -> BaseTool:
    """Index ``folder`` now (incrementally) into ``index`` and return ``search_docs``
    scoped to it.

    Raises ``NotAFolder`` (a ``ConfigurationError``) when the folder does not exist.
    """
    summary = index.add(folder)
    return make_search_docs_tool([summary.folder], index=index)


def indexed_docs_tools(path: Path) -> list[BaseTool]:
    """``[search_docs]`` over every folder of the index at ``path``; ``[]`` while it
    holds none (a tool that can only say "nothing indexed" would cost every prompt)."""
    if not path.is_file():
        return []
    docs = DocIndex(path)
    if not docs.folders():
        docs.close()
        return []
    return [make_search_docs_tool(index=docs)]
