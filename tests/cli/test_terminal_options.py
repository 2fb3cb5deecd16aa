"""What a person sees on a real terminal (pexpect): ``--quiet``, ``--no-color`` and
``NO_COLOR``, the answer streaming in as it is written, and the exit codes that
``ahora --help`` documents."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pexpect
import pytest

from ahora.testing.openai_server import OpenAIServer, tool_then_answer
from tests.cli.conftest import ANSWER
from tests.fixtures.open_meteo import OpenMeteoServer

pytestmark = pytest.mark.slow

StartServer = Callable[..., OpenAIServer]
AHORA = [sys.executable, "-m", "ahora"]
_ANSI = re.compile(r"\x1b\][^\x1b]*\x1b\\|\x1b\[[0-9;?]*[A-Za-z]")
# SGR sequences that set a colour (foreground or background), not bold or dim.
_COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """``python -m ahora ARGS`` on a pseudo-terminal: exit status and everything drawn."""
    environ = dict(os.environ)
    environ.pop("NO_COLOR", None)
    environ["PROMPT_TOOLKIT_NO_CPR"] = "1"
    environ.update(env or {})
    child = pexpect.spawn(
        AHORA[0],
        [*AHORA[1:], *args],
        env=environ,
        encoding="utf-8",
        timeout=60,
        dimensions=(30, 100),
    )
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus or 0, child.before


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


@pytest.fixture
def weather_turn(model_server: StartServer, weather_server: OpenMeteoServer) -> None:
    """Every question gets a weather tool call, then the answer."""
    model_server(rule=tool_then_answer("weather", {"location": "Santiago, Chile"}, answer=ANSWER))


@pytest.mark.parametrize(
    "args",
    [
        ("ask", "--quiet", "Weather tomorrow in Santiago?"),
        ("ask", "-qy", "Weather tomorrow in Santiago?"),  # click's combined short flags
        ("Weather tomorrow in Santiago?", "-q"),  # the bare question runs ask
    ],
    ids=["--quiet", "-qy", "bare"],
)
def test_quiet_shows_the_answer_without_progress_or_footer(
    weather_turn: None, args: tuple[str, ...]
) -> None:
    status, out = _run(*args)
    text = _plain(out)
    assert status == 0, text
    assert "Tomorrow in Santiago: 25 °C and clear." in text
    assert "Thinking" not in text and "Weather for Santiago" not in text
    assert "✓" not in text
    assert not re.search(r"\d+ steps? ·", text)


@pytest.mark.parametrize(
    ("args", "env", "coloured"),
    [
        ((), {}, True),
        (("--no-color",), {}, False),
        ((), {"NO_COLOR": "1"}, False),
    ],
    ids=["default", "--no-color", "NO_COLOR"],
)
def test_colour_is_off_with_no_color_or_its_flag(
    weather_turn: None, args: tuple[str, ...], env: dict[str, str], coloured: bool
) -> None:
    status, out = _run("ask", *args, "Weather tomorrow in Santiago?", env=env)
    assert status == 0, _plain(out)
    assert "Tomorrow in Santiago: 25 °C and clear." in _plain(out)
    assert bool(_COLOUR.search(out)) is coloured, repr(out[-600:])


# --- the answer streams in as it is written -----------------------------------------------


class _GatedStream(BaseHTTPRequestHandler):
    """An OpenAI-style streaming reply whose second half waits for ``gate``."""

    first = "The first half arrives now"
    second = " and the second half later."
    gate = threading.Event()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        json.loads(self.rfile.read(length) or b"{}")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()

        def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "test-model",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()

        send({"role": "assistant", "content": ""})
        send({"content": self.first})
        self.gate.wait(90)  # longer than the test waits for the first half
        send({"content": self.second})
        send({}, "stop")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def gated_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_GatedStream]]:
    handler = type("Gated", (_GatedStream,), {"gate": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AHORA_MODEL", "openai:test-model")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
    monkeypatch.setenv("AHORA_MODEL_MAX_RETRIES", "0")
    yield handler
    handler.gate.set()
    server.shutdown()
    server.server_close()


def test_the_answer_is_visible_while_it_is_still_being_written(
    gated_server: type[_GatedStream],
) -> None:
    environ = dict(os.environ)
    environ.pop("NO_COLOR", None)
    child = pexpect.spawn(
        AHORA[0],
        [*AHORA[1:], "ask", "Tell me in two halves"],
        env=environ,
        encoding="utf-8",
        timeout=60,
        dimensions=(30, 100),
    )
    # The first half is on screen while the model has not sent the second half yet.
    child.expect("The first half arrives now", timeout=25)
    assert not gated_server.gate.is_set()
    gated_server.gate.set()
    child.expect("and the second half later")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


# --- exit codes ----------------------------------------------------------------------------


def test_top_level_help_documents_the_exit_codes() -> None:
    done = subprocess.run([*AHORA, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert (
        "Exit codes: 0 ok · 1 the run failed · 2 usage or configuration error · 130 interrupted"
    ) in text
    assert "ask" in text and "chat" in text


def test_the_documented_exit_codes_are_the_real_ones(model_server: StartServer) -> None:
    from typer.testing import CliRunner

    from ahora.cli.main import app

    model_server([{"status": 500}], fallback={"status": 500})
    runner = CliRunner()
    assert runner.invoke(app, ["ask", "--bogus", "hi"]).exit_code == 2
    assert runner.invoke(app, ["ask", "--max-steps", "0", "hi"]).exit_code == 2
    failed = runner.invoke(app, ["ask", "hi"])
    assert failed.exit_code == 1, failed.output
    assert "Traceback" not in failed.output and failed.stderr.startswith("Error: ")
