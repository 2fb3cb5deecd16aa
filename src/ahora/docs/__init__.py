"""Search over the user's own documents: folders indexed into SQLite FTS5 (BM25).

- ``extract``: file bytes to blocks with source lines or pages, and chunking.
- ``store``: the database schema and safe FTS5 queries.
- ``index``: ``DocIndex`` (add, remove, folders, search), incremental by size, mtime
  and hash.
- ``embeddings``: optional semantic ranking fused with BM25 (``ahora[embeddings]``).
- ``tool``: the ``search_docs`` LangChain tool (imports LangChain; import it from
  ``ahora.tools.search_docs`` so the CLI's ``ahora docs`` commands stay light).
"""

from __future__ import annotations

from ahora.docs.index import DocIndex, FolderInfo, Hit, IndexSummary, NotAFolder

__all__ = ["DocIndex", "FolderInfo", "Hit", "IndexSummary", "NotAFolder"]
