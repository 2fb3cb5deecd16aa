"""The real thing: ``python -m ahora`` in a pseudo-terminal (pexpect) and as a pipe,
against the loopback model server, including Ctrl-C, Ctrl-D, restarts and kill -9."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from ahora.testing.openai_server import OpenAIServer, tool_then_answer
from tests.cli.conftest import ANSWER, WEATHER_CALL, user_messages
from tests.cli.screen import ctrl_c_as_on_a_terminal
from tests.fixtures.open_meteo import OpenMeteoServer

pytestmark = pytest.mark.slow

StartServer = Callable[..., OpenAIServer]
AHORA = [sys.executable, "-m", "ahora"]
ROOT = Path(__file__).resolve().parents[2]
PROMPT = "›"
_ANSI = re.compile(r"\x1b\][^\x1b]*\x1b\\|\x1b\[[0-9;?]*[A-Za-z]")


def _spawn(*args: str) -> pexpect.spawn:
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"  # nothing here answers cursor-position requests
    return pexpect.spawn(
        AHORA[0],
        [*AHORA[1:], *args],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(30, 100),
        preexec_fn=ctrl_c_as_on_a_terminal,
    )


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


def _wait_for(predicate: Callable[[], bool], timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_ask_on_a_terminal_shows_status_answer_sources_footer(
    model_server: StartServer, weather_server: OpenMeteoServer
) -> None:
    model_server(rule=tool_then_answer("weather", {"location": "Santiago, Chile"}, answer=ANSWER))
    child = _spawn("ask", "Weather tomorrow in Santiago?")
    child.expect("Thinking ...")
    child.expect(pexpect.EOF)
    child.close()
    out = _plain(child.before)
    assert child.exitstatus == 0, out
    assert "Weather for Santiago, Chile ..." in out  # the live status
    assert "✓ Weather for Santiago, Chile" in out
    assert "Tomorrow in Santiago: 25 °C and clear." in out  # Markdown: no ** left
    assert re.search(r"Sources\s+1\. Open-Meteo", out)
    assert re.search(r"2 steps · [\d,]+\+[\d,]+ tokens · [\d.]+ s · test-model", out)
    assert "Traceback" not in out


def test_chat_repl_ctrl_c_cancels_a_turn_and_the_thread_survives_a_restart(
    model_server: StartServer,
) -> None:
    srv = model_server(
        ["Paris.", {"content": "too late", "delay": 3}, "Tokyo.", "You asked about France."]
    )
    child = _spawn("chat")
    child.expect("/help for commands")
    child.expect(PROMPT)
    child.sendline("Capital of France?")
    child.expect("Paris.")
    child.expect("1 step")
    child.expect(PROMPT)
    child.sendline("/usage")
    child.expect("1 turn ·")
    child.expect(PROMPT)
    child.sendline("A slow question")
    _wait_for(lambda: srv.calls == 2)
    child.sendintr()  # Ctrl-C while the model is still answering
    child.expect("Cancelled", timeout=10)
    child.expect(PROMPT)
    child.sendline("Capital of Japan?")
    child.expect("Tokyo.")
    child.expect(PROMPT)
    # The cancelled question is gone from the conversation; the first one is kept.
    assert user_messages(srv.requests[2]) == ["Capital of France?", "Capital of Japan?"]
    child.sendline("/threads")
    child.expect("Capital of France")
    child.expect(PROMPT)
    child.sendeof()  # Ctrl-D leaves
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    # A new process, piped: each line is a turn, answers alone on stdout.
    done = subprocess.run(
        [*AHORA, "chat", "--resume", "last"],
        input="What did I ask first?\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "You asked about France.\n"
    assert user_messages(srv.requests[-1]) == [
        "Capital of France?",
        "Capital of Japan?",
        "What did I ask first?",
    ]


def test_piped_chat_takes_one_turn_per_line(model_server: StartServer) -> None:
    srv = model_server(["One.", "Two."])
    done = subprocess.run(
        [*AHORA, "chat"], input="first\n\nsecond\n", capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "One.\nTwo.\n"
    assert user_messages(srv.requests[1]) == ["first", "second"]


def test_kill_9_mid_turn_then_resume(
    model_server: StartServer, weather_server: OpenMeteoServer
) -> None:
    srv = model_server([WEATHER_CALL, {"content": "never sent", "delay": 60}, "Resumed."])
    proc = subprocess.Popen(
        [*AHORA, "ask", "--json", "Weather in Santiago?"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(lambda: srv.calls == 2)  # the weather step is done; the next is in flight
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
    done = subprocess.run(
        [*AHORA, "ask", "--json", "--thread", "last", "And now?"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"] == "Resumed."
    sent = srv.requests[-1]["messages"]
    assert user_messages(srv.requests[-1]) == ["Weather in Santiago?", "And now?"]
    # The finished step (the forecast) was kept.
    assert any(m["role"] == "tool" and "Santiago" in m["content"] for m in sent)


def test_ctrl_c_during_ask_exits_130(model_server: StartServer) -> None:
    srv = model_server([{"content": "too late", "delay": 30}])
    child = _spawn("ask", "A slow question")
    child.expect("Thinking ...")
    _wait_for(lambda: srv.calls == 1)
    child.sendintr()
    child.expect(pexpect.EOF, timeout=10)
    child.close()
    assert child.exitstatus == 130
    assert "Traceback" not in child.before


def test_leaving_chat_says_how_to_resume(model_server: StartServer) -> None:
    model_server(["Paris."])
    child = _spawn("chat")
    child.expect(PROMPT)
    child.sendline("Capital of France?")
    child.expect("Paris.")
    child.expect(PROMPT)
    child.sendeof()  # Ctrl-D
    child.expect(pexpect.EOF)
    child.close()
    assert re.search(r"Resume with: ahora chat --resume [0-9a-f]{8}", child.before or "")


def test_ask_dash_on_a_terminal_says_what_it_waits_for(model_server: StartServer) -> None:
    srv = model_server(["Four."])
    child = _spawn("ask", "-")
    child.expect("then Ctrl-D")  # it used to wait in silence
    child.sendline("What is 2+2?")
    child.sendeof()
    child.expect("Four.")
    child.expect(pexpect.EOF)
    child.close()
    assert user_messages(srv.requests[0]) == ["What is 2+2?"]


def test_the_readmes_researcher_transcript_is_what_the_screen_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """README, "Agents that call agents": the default assistant hands the question to the
    researcher, which searches (loopback SearXNG) and reads the page (loopback server);
    the screen at 80 columns is the README's, but for times, tokens, port and thread."""
    import importlib.util

    from tests.cli.screen import draw, spawn
    from tests.fixtures.pages import PageServer
    from tests.fixtures.searxng import SearXNGServer

    spec = importlib.util.spec_from_file_location("terminal_doc", ROOT / "docs" / "terminal.py")
    assert spec is not None and spec.loader is not None
    doc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(doc)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = f'$ ahora ask "{doc.RESEARCH_QUESTION}"\n'
    shown = readme.split(command, 1)[1].split("```", 1)[0]

    def gist(text: str) -> str:
        text = re.sub(r"\d+\.\d s", "N s", text)
        text = re.sub(r"[\d,]+\+[\d,]+ tokens", "N+N tokens", text)
        text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
        return re.sub(r"thread [0-9a-f]{8}", "thread ID", text).strip()

    with SearXNGServer() as search, PageServer(ipv6=False) as pages:
        page = pages.url("/article")
        search.corpus["Port Averly tidal energy plant"] = [
            {"url": page, "title": "Harbour town opens Europe's largest tidal energy plant"}
        ]
        with OpenAIServer(rule=doc._research_rule(page)) as model:
            for key, value in {
                "AHORA_MODEL": "openai:gpt-4.1-mini",
                "OPENAI_API_KEY": "test",
                "OPENAI_BASE_URL": model.base_url,
                "AHORA_SEARXNG_URL": search.url,
                "AHORA_ALLOW_PRIVATE_URLS": "1",
            }.items():
                monkeypatch.setenv(key, value)
            child = spawn("ask", doc.RESEARCH_QUESTION, cols=80, rows=60)
            child.logfile_read = seen = io.StringIO()
            child.expect(pexpect.EOF)
            child.close()
    assert child.exitstatus == 0
    assert gist("\n".join(draw(seen.getvalue(), cols=80, rows=60))) == gist(shown)
    assert "/article" in pages.hits  # the researcher read the page
    assert any(r.path == "/search" for r in search.requests)  # after searching
