"""The CLI session: one recipe per build, read once; /model and /agent rebuild it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ahora import profiles
from ahora.cli.session import Session
from ahora.recipe import Choices
from ahora.settings import Settings
from ahora.testing import ScriptedChatModel
from tests.fixtures.faults import FAULTS, assert_survived


def counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = profiles._read

    def read(path: Any, *args: Any, **kwargs: Any) -> profiles.Profile:
        reads.append(path.stem)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(profiles, "_read", read)
    return reads


def test_opening_a_session_reads_the_profile_once(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = counting_reads(monkeypatch)
    model = ScriptedChatModel(replies=["hi"])
    session = Session(Settings.load(), Choices(profile="researcher", model=model))
    session.open()
    assert reads == ["researcher"]
    assert session.agent.recipe.budget.steps == 24
    session.close()


def test_agent_switch_keeps_the_flags_and_takes_the_new_profile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = ScriptedChatModel(replies=["hi"])
    session = Session(Settings.load(), Choices(profile="researcher", model=model, max_tokens=500))
    session.open()
    profile = session.use_profile("weather")
    assert profile.name == "weather"
    recipe = session.agent.recipe
    assert recipe.profile is not None and recipe.profile.name == "weather"
    assert recipe.budget.tokens == 500 and recipe.origins["budget.tokens"] == "argument"
    assert recipe.model is model
    session.close()


def test_a_failed_switch_keeps_the_previous_recipe() -> None:
    model = ScriptedChatModel(replies=["hi"])
    session = Session(Settings.load(), Choices(profile="researcher", model=model))
    session.open()
    with pytest.raises(Exception, match="no profile named 'sommelier'"):
        session.use_profile("sommelier")
    assert session.choices.profile == "researcher"
    assert session.profile_info is not None and session.profile_info.name == "researcher"
    session.close()


def test_a_turn_reads_the_thread_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the run itself loads the checkpoint: no snapshot before, no read after."""
    model = ScriptedChatModel(replies=["one", "two"])
    session = Session(Settings.load(), Choices(profile="assistant", model=model, tools=[]))
    session.open()
    reads: list[Any] = []
    saver = session._saver
    real = saver.get_tuple
    monkeypatch.setattr(saver, "get_tuple", lambda config: reads.append(config) or real(config))
    events = list(session.ask("first"))
    assert events[-1].answer.text == "one"  # type: ignore[attr-defined]
    assert len(reads) == 1
    list(session.ask("second"))
    assert len(reads) == 2
    assert [m.content for m in session.agent.messages(session.thread_id)] == [
        "first",
        "one",
        "second",
        "two",
    ]
    session.close()


def test_fault_is_survived(tmp_path: Path) -> None:
    """A process killed mid-turn leaves a thread the next process continues."""
    assert_survived(FAULTS["killed_mid_turn"], tmp_path)


def test_ctrl_c_while_waiting_for_a_cancelled_turn_leaves_it_busy() -> None:
    """A Ctrl-C that interrupts Thread.join marks the thread stopped while it still runs
    (Python < 3.13); the session must still know the old turn holds the thread."""
    import signal
    import threading

    session = Session.__new__(Session)
    release, done = threading.Event(), threading.Event()

    def old_turn() -> None:
        release.wait(10)
        done.set()

    session._worker = threading.Thread(target=old_turn, daemon=True)
    session._worker_done = done
    session._worker.start()
    ctrl_c = threading.Timer(
        0.2, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)
    )
    # Whatever SIGINT disposition the test run inherited (ignored when started with
    # `&` or nohup), Ctrl-C raises KeyboardInterrupt here, as it does in a terminal.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    ctrl_c.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            session.wait()
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert session.busy
    release.set()
    assert session.wait(5) and not session.busy
