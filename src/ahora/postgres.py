"""Threads in PostgreSQL: the public home of ``ahora.threads.postgres`` (see there).

Importing it needs ``pip install 'ahora[postgres]'``; ``ahora.threads`` stays light
and does not import it.
"""

from __future__ import annotations

from ahora.threads.pgconnect import cannot_connect as _cannot_connect  # noqa: F401
from ahora.threads.postgres import (
    ThreadedPostgresSaver,
    apostgres_checkpointer,
    postgres_checkpointer,
    redact,
)

__all__ = [
    "ThreadedPostgresSaver",
    "apostgres_checkpointer",
    "postgres_checkpointer",
    "redact",
]
