"""A conversation the CLI drives: the agent, its saved thread, and the turn in flight.

``Session`` is shared by ``ahora ask`` (one turn) and ``ahora chat`` (many). It
imports LangChain only in ``open()``, so commands can show a status line first. The
agent is a recipe (``ahora.recipe``): the profile (``--agent``, default
``assistant``) under the flags, resolved once per build; ``use_profile`` and
``set_model`` replace one choice and rebuild it on the same thread.

Every turn is saved: the compact checkpointer (``ahora.threads``) keeps the thread's
state, and the thread index records the question and the answer. Two repairs keep a
thread usable whatever happened to it:

* A turn that does not finish (Ctrl-C, ``cancel``, an error) is undone: its
  messages are removed and the conversation is as it was before the question.
* A turn that was killed (``kill -9``, a crash) leaves tool calls without results;
  the agent's ``DanglingToolCallsMiddleware`` answers them with a "never finished"
  note in the next model request, so the provider sees a well-formed conversation
  and the model sees what the finished steps found.

A turn whose agent asks for approval pauses; ``ask`` calls its ``approve`` callback
with the pending calls (in the caller's thread, between events) and goes on with the
decisions, so one turn may be several runs of the graph.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ahora.answer import Usage
from ahora.events import Event, Finished
from ahora.profiles import DEFAULT_PROFILE
from ahora.recipe import Choices, Recipe, resolve_recipe
from ahora.settings import Settings
from ahora.threads import ThreadIndex, close_checkpointer, open_checkpointer

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from ahora.agent import Agent
    from ahora.answer import Answer
    from ahora.docs.index import DocIndex, IndexSummary
    from ahora.profiles import Profile

__all__ = [
    "DEFAULT_PROFILE",
    "Approver",
    "Session",
    "docs_tool",
    "new_thread_id",
]

_DONE = object()
log = logging.getLogger(__name__)
_DEFAULT: dict[str, Any] = {"profile": DEFAULT_PROFILE}

Approver = Callable[[list[dict[str, Any]]], list[bool]]
"""Given the calls waiting for approval (``{"name", "args"}``), one yes/no for each."""


def new_thread_id() -> str:
    return uuid.uuid4().hex


def docs_tool(
    folders: Sequence[Path], *, index: DocIndex | None = None
) -> tuple[BaseTool, list[IndexSummary]]:
    """Index ``folders`` now and return one ``search_docs`` scoped to them.

    ``--docs DIR`` is one-off (README: "indexes a one-off folder on the fly and
    searches only it"): without ``index`` the folders go into a scratch index in a
    temporary folder, removed when the process ends, so the saved index
    (``ahora docs``), the default tools and later questions are as they were.
    Raises ``NotAFolder`` (a ``ConfigurationError``) for a folder that does not exist.
    """
    from ahora.docs.index import DocIndex
    from ahora.tools.search_docs import make_search_docs_tool

    docs = index if index is not None else DocIndex(_scratch_dir() / "docs.sqlite")
    summaries = [docs.add(folder) for folder in folders]
    return make_search_docs_tool([s.folder for s in summaries], index=docs), summaries


def _scratch_dir() -> Path:
    """A private temporary folder, removed at exit (``os._exit`` after a Ctrl-C skips
    that; the system's temp cleaner then removes it)."""
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ahora-docs-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


class Session:
    """An agent bound to one saved thread at a time."""

    def __init__(
        self,
        settings: Settings,
        choices: Choices | None = None,
        *,
        extra_tools: Sequence[BaseTool] = (),
        thread_id: str | None = None,
        **chosen: Any,
    ) -> None:
        """``choices`` are the flags (``ahora.recipe``: they override the profile's);
        without them, ``chosen`` are their fields and the profile is ``assistant``.
        ``extra_tools`` join whichever tool list applies (``--docs``)."""
        self.settings = settings
        self.choices = choices if choices is not None else Choices(**{**_DEFAULT, **chosen})
        self.extra_tools = list(extra_tools)
        self.thread_id = thread_id or new_thread_id()
        self.index = ThreadIndex.for_settings(settings)
        self.usage = Usage(input_tokens=0, output_tokens=0)
        self.turns = 0
        self.recipe: Recipe | None = None
        self._agent: Agent | None = None
        self._saver: Any = None
        self._worker: threading.Thread | None = None
        self._worker_done = threading.Event()
        self._cancel: threading.Event | None = None

    # -- set-up ---------------------------------------------------------------

    @property
    def profile_info(self) -> Profile | None:
        return self.recipe.profile if self.recipe is not None else None

    def open(self) -> None:
        """Resolve the recipe (reads the profile once) and build the agent (imports
        LangChain; resolves the model: may raise)."""
        from ahora.agent import Agent

        recipe = resolve_recipe(self.choices, self.settings)
        if self.extra_tools:
            recipe = replace(recipe, tools=self._with_extra(recipe.tools))
        if self._saver is None:
            self._saver = open_checkpointer(self.settings)
        self._agent = Agent(recipe=recipe, checkpointer=self._saver, settings=self.settings)
        self.recipe = recipe

    def _with_extra(self, tools: tuple[Any, ...] | None) -> tuple[Any, ...]:
        """``extra_tools`` added to ``tools`` (all available tools when None), replacing
        any of the same name."""
        base: Sequence[Any] = tools if tools is not None else ()
        if tools is None:
            from ahora.tools.registry import available_tools

            base = list(available_tools(settings=self.settings).values())
        extra = {t.name for t in self.extra_tools}
        kept = [t for t in base if (t if isinstance(t, str) else t.name) not in extra]
        return (*kept, *self.extra_tools)

    @property
    def agent(self) -> Agent:
        if self._agent is None:
            self.open()
        assert self._agent is not None
        return self._agent

    def set_model(self, spec: str) -> str:
        """Switch model, keeping the thread; returns the new model's name. A bare name
        (``gpt-4o``) keeps the current model's provider."""
        if ":" not in spec and spec.strip():
            spec = f"{self._provider()}:{spec.strip()}"
        self._reopen(replace(self.choices, model=spec))
        return self.agent.model_name

    def _provider(self) -> str:
        """The provider of the model in use (as chosen, or as auto-detected)."""
        current = self.recipe.model if self.recipe is not None else self.choices.model
        if isinstance(current, str) and ":" in current:
            return current.partition(":")[0]
        from ahora.models import choose_model

        return choose_model(self.settings, probe=False).spec.partition(":")[0]

    def use_profile(self, name: str) -> Profile:
        """Switch to another profile (name or .toml path), keeping the thread."""
        self._reopen(replace(self.choices, profile=name))
        assert self.profile_info is not None
        return self.profile_info

    def _reopen(self, choices: Choices) -> None:
        """Rebuild the agent from ``choices``; keep the old ones if that fails."""
        previous, self.choices = self.choices, choices
        try:
            self.open()
        except Exception:
            self.choices = previous
            raise

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
    def busy(self) -> bool:
        """A cancelled turn is still winding down in the background."""
        return self._worker is not None and not self._worker_done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a cancelled turn to wind down; False if it is still running."""
        if self._worker is not None:
            # An Event, not Thread.join: a Ctrl-C that interrupts join() (Python < 3.13)
            # leaves the thread marked as stopped while it still runs and holds the thread.
            if not self._worker_done.wait(timeout):
                return False
            self._worker.join()
            self._worker = None
        return True

    def ask(
        self, question: str, *, approve: Approver | None = None, output: Any = None
    ) -> Iterator[Event]:
        """Run one turn on the current thread, yielding its events (last: ``Finished``).

        The run goes on in a worker thread: LangGraph waits for a step in flight
        before it lets go, so a Ctrl-C (or any exception) here only *asks* the
        worker to stop at the next event and undo the turn; the caller is free at once.

        When the run pauses for approval, ``approve`` decides (None: reject all) and
        the run resumes; the paused run's ``Finished`` is not yielded.
        """
        self.wait()
        agent = self.agent
        thread_id = self.thread_id
        turn = _Turn(agent, thread_id, new_thread_id())
        self.index.start_turn(thread_id, question, agent.model_name)
        run: Callable[[], Iterator[Event]] = functools.partial(
            agent.stream, question, thread=thread_id, question_id=turn.question_id, output=output
        )
        waited = 0.0  # run time of the paused parts, not the time spent deciding
        while True:
            paused: Answer | None = None
            for event in self._in_worker(run, turn):
                if isinstance(event, Finished) and event.answer.pending:
                    paused = event.answer
                    continue
                if isinstance(event, Finished):
                    event.answer.seconds += waited
                    self._finished(question, event.answer)
                yield event
            if paused is None:
                return
            waited += paused.seconds
            try:
                votes = approve(paused.pending) if approve else [False] * len(paused.pending)
            except BaseException:
                with contextlib.suppress(Exception):
                    turn.undo()
                raise
            run = functools.partial(agent.stream_resume, thread_id, approve=votes, output=output)

    def _in_worker(self, run: Callable[[], Iterator[Event]], turn: _Turn) -> Iterator[Event]:
        """The events of ``run()``, streamed by a worker thread (see ``ask``)."""
        events: queue.Queue[Any] = queue.Queue()
        cancel = threading.Event()
        self._cancel = cancel
        self._worker_done = done = threading.Event()
        self._worker = threading.Thread(
            target=self._run,
            args=(run, turn, events, cancel, done),
            name="ahora-turn",
            daemon=True,
        )
        self._worker.start()
        try:
            while (item := events.get()) is not _DONE:
                if isinstance(item, BaseException):
                    self.wait()  # the worker only undoes the turn now; let it finish
                    raise item
                yield item
        except BaseException:
            cancel.set()
            raise
        self.wait()

    def cancel(self) -> None:
        """Stop the turn in flight (after Ctrl-C) and undo it, without waiting."""
        if self._cancel is not None:
            self._cancel.set()

    def _run(
        self,
        run: Callable[[], Iterator[Event]],
        turn: _Turn,
        events: queue.Queue[Any],
        cancel: threading.Event,
        done: threading.Event,
    ) -> None:
        """The worker: stream the run into ``events``; undo the turn unless it finished
        (a pause for approval counts as finished: the caller decides what follows)."""
        finished = False
        try:
            stream = run()
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
                turn.undo()
                self._forget_if_unfinished(turn.thread_id)
        except BaseException as exc:
            events.put(exc)
            with contextlib.suppress(Exception):  # else the next turn seals what is left
                turn.undo()
                self._forget_if_unfinished(turn.thread_id)
        else:
            # Best effort, and never a reason to undo a turn that finished: a locked or
            # full disk only means the file shrinks at the next turn instead.
            if hasattr(self._saver, "compact"):
                try:
                    self._saver.compact()
                except Exception as exc:
                    log.debug("compaction skipped: %s", exc)
        finally:
            done.set()
            events.put(_DONE)

    def _forget_if_unfinished(self, thread_id: str) -> None:
        """A thread whose only turn was undone leaves neither a listed thread nor a
        checkpoint (which ``threads export`` would find and report as skipped)."""
        if self.index.drop_unfinished(thread_id) and hasattr(self._saver, "delete_thread"):
            try:
                self._saver.delete_thread(thread_id)
            except Exception as exc:  # the export lists only indexed threads anyway
                log.debug("checkpoint of %s kept: %s", thread_id, exc)

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


class _Turn:
    """The turn in flight: undone with ``Agent.rollback`` from its question's id, so
    no snapshot of the thread is needed before it starts."""

    def __init__(self, agent: Agent, thread_id: str, question_id: str) -> None:
        self.agent = agent
        self.thread_id = thread_id
        self.question_id = question_id

    def undo(self) -> None:
        """Remove the messages the turn added: the thread is as it was before it."""
        self.agent.rollback(self.thread_id, self.question_id)
