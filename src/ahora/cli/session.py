"""A conversation the CLI drives: the agent, its saved thread, and the turn in flight.

``Session`` is shared by ``ahora ask`` (one turn) and ``ahora chat`` (many). It
imports LangChain only in ``open()``, so commands can show a status line first.

Every turn is saved: the compact checkpointer (``ahora.threads``) keeps the thread's
state, and the thread index records the question and the answer. Two repairs keep a
thread usable whatever happened to it:

* A turn that does not finish (Ctrl-C, ``cancel``, an error) is undone: its
  messages are removed and the conversation is as it was before the question.
* A turn that was killed (``kill -9``, a crash) leaves tool calls without results;
  the next turn first answers them with an "interrupted" error, so the model and
  the provider see a well-formed conversation and what the finished steps found.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ahora.answer import Usage
from ahora.events import Event, Finished
from ahora.settings import Settings
from ahora.threads import ThreadIndex, close_checkpointer, open_checkpointer

if TYPE_CHECKING:
    from ahora.agent import Agent
    from ahora.answer import Answer

__all__ = ["INTERRUPTED_TOOL", "Session", "build_model", "new_thread_id"]

_DONE = object()
INTERRUPTED_TOOL = (
    "Error: this tool call was interrupted before it finished; its result is unknown."
)


def build_model(settings: Settings) -> Any:
    """The model the CLI's agent runs: ``settings.model`` or None (auto-detect).

    The one place where a chat model object may be swapped in for the spec string.
    """
    return settings.model


def new_thread_id() -> str:
    return uuid.uuid4().hex


class Session:
    """An agent bound to one saved thread at a time."""

    def __init__(
        self,
        settings: Settings,
        *,
        tools: list[str] | None = None,
        thread_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.tool_names = tools
        self.thread_id = thread_id or new_thread_id()
        self.index = ThreadIndex.for_settings(settings)
        self.usage = Usage(input_tokens=0, output_tokens=0)
        self.turns = 0
        self._agent: Agent | None = None
        self._saver: Any = None
        self._worker: threading.Thread | None = None
        self._cancel: threading.Event | None = None

    # -- set-up ---------------------------------------------------------------

    def open(self) -> None:
        """Build the agent (imports LangChain; resolves the model: may raise)."""
        from ahora.agent import Agent

        if self._saver is None:
            self._saver = open_checkpointer(self.settings)
        self._agent = Agent(
            build_model(self.settings),
            self.tool_names,
            checkpointer=self._saver,
            settings=self.settings,
        )

    @property
    def agent(self) -> Agent:
        if self._agent is None:
            self.open()
        assert self._agent is not None
        return self._agent

    def set_model(self, spec: str) -> str:
        """Switch model, keeping the thread; returns the new model's name."""
        previous = self.settings
        self.settings = dataclasses.replace(self.settings, model=spec)
        try:
            self.open()
        except Exception:
            self.settings = previous
            raise
        return self.agent.model_name

    def new_thread(self) -> str:
        self.thread_id = new_thread_id()
        return self.thread_id

    def switch(self, thread_id: str) -> None:
        self.thread_id = thread_id

    def close(self) -> None:
        """Release the files (after waiting for a cancelled turn to wind down)."""
        self.wait()
        if self._saver is not None:
            close_checkpointer(self._saver)
            self._saver = None
        self.index.close()

    # -- turns ----------------------------------------------------------------

    @property
    def _config(self) -> dict[str, Any]:
        return {"configurable": {"thread_id": self.thread_id}}

    def _messages(self) -> list[Any]:
        state = self.agent.graph.get_state(self._config)  # type: ignore[arg-type]
        return list((state.values or {}).get("messages", []))

    def _seal(self, messages: list[Any]) -> list[Any]:
        """Answer tool calls a killed turn left open; returns the messages after that."""
        from langchain_core.messages import AIMessage, ToolMessage

        answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
        fixes = [
            ToolMessage(
                INTERRUPTED_TOOL, tool_call_id=call["id"], name=call["name"], status="error"
            )
            for m in messages
            if isinstance(m, AIMessage)
            for call in m.tool_calls
            if call["id"] not in answered
        ]
        if not fixes:
            return messages
        self.agent.graph.update_state(self._config, {"messages": fixes}, as_node="tools")  # type: ignore[arg-type]
        return messages + fixes

    @property
    def busy(self) -> bool:
        """A cancelled turn is still winding down in the background."""
        return self._worker is not None and self._worker.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a cancelled turn to wind down; False if it is still running."""
        if self._worker is not None:
            self._worker.join(timeout)
            if self._worker.is_alive():
                return False
            self._worker = None
        return True

    def ask(self, question: str) -> Iterator[Event]:
        """Run one turn on the current thread, yielding its events (last: ``Finished``).

        The run goes on in a worker thread: LangGraph waits for a step in flight
        before it lets go, so a Ctrl-C (or any exception) here only *asks* the
        worker to stop at the next event and undo the turn; the caller is free at once.
        """
        self.wait()
        agent = self.agent
        before = {m.id for m in self._seal(self._messages())}
        self.index.start_turn(self.thread_id, question, agent.model_name)
        events: queue.Queue[Any] = queue.Queue()
        cancel = threading.Event()
        self._cancel = cancel
        self._worker = threading.Thread(
            target=self._run,
            args=(agent, self.thread_id, question, before, events, cancel),
            name="ahora-turn",
            daemon=True,
        )
        self._worker.start()
        try:
            while (item := events.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, Finished):
                    self._finished(question, item.answer)
                yield item
        except BaseException:
            cancel.set()
            raise

    def cancel(self) -> None:
        """Stop the turn in flight (after Ctrl-C) and undo it, without waiting."""
        if self._cancel is not None:
            self._cancel.set()

    def _run(
        self,
        agent: Agent,
        thread_id: str,
        question: str,
        before: set[str],
        events: queue.Queue[Any],
        cancel: threading.Event,
    ) -> None:
        """The worker: stream the turn into ``events``; undo it unless it finished."""
        finished = False
        try:
            stream = agent.stream(question, thread=thread_id)
            try:
                for event in stream:
                    if cancel.is_set():
                        break
                    events.put(event)
                    finished = isinstance(event, Finished)
            finally:
                close = getattr(stream, "close", None)  # a generator: leave LangGraph's loop
                if close is not None:
                    close()
            if not finished:
                self._undo(agent, thread_id, before)
            if hasattr(self._saver, "compact"):
                self._saver.compact()
        except BaseException as exc:
            events.put(exc)
            with contextlib.suppress(Exception):  # else the next turn seals what is left
                self._undo(agent, thread_id, before)
        finally:
            events.put(_DONE)

    @staticmethod
    def _undo(agent: Agent, thread_id: str, before: set[str]) -> None:
        """Remove the messages a turn added: the thread is as it was before it."""
        from langchain_core.messages import RemoveMessage
        from langgraph.graph.message import REMOVE_ALL_MESSAGES

        config: Any = {"configurable": {"thread_id": thread_id}}
        messages = (agent.graph.get_state(config).values or {}).get("messages", [])
        kept = [m for m in messages if m.id in before]
        if len(kept) < len(messages):
            # Replace the whole list: some of the turn's messages may exist only as
            # pending writes of the interrupted step, where RemoveMessage cannot reach.
            agent.graph.update_state(
                config,
                {"messages": [RemoveMessage(id=REMOVE_ALL_MESSAGES), *kept]},
                as_node="model",
            )

    def _finished(self, question: str, answer: Answer) -> None:
        self.turns += 1
        self.usage["input_tokens"] += answer.usage["input_tokens"]
        self.usage["output_tokens"] += answer.usage["output_tokens"]
        self.index.finish_turn(
            self.thread_id,
            question=question,
            answer=answer.text,
            sources=[dict(s) for s in answer.sources],
            tool_calls=[dict(c) for c in answer.tool_calls],
            model=answer.model,
        )
