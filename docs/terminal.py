"""Write docs/terminal.md: what ahora's views look like on an 80-column terminal.

    python docs/terminal.py > docs/terminal.md

Each command runs for real (``python -m ahora``) in a pseudo-terminal of 80 x 60
(pexpect), and the screen is read back as a VT100 draws it (pyte), so the transcript
is what a person sees once the command is done (live status lines are gone by then).
The model is ahora's loopback OpenAI-compatible server answering from a script, and
the weather, search results and pages come from the loopback stand-ins of the tests
(Open-Meteo, SearXNG, a web page): nothing leaves the machine. Loopback addresses are
shown as ``127.0.0.1:PORT``.
"""

from __future__ import annotations

import io
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import pexpect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cli.screen import draw, spawn  # noqa: E402
from tests.fixtures.open_meteo import OpenMeteoServer  # noqa: E402
from tests.fixtures.pages import PageServer  # noqa: E402
from tests.fixtures.searxng import SearXNGServer  # noqa: E402

from ahora.testing.openai_server import OpenAIServer, last_message_is_tool_result  # noqa: E402

COLS, ROWS = 80, 60


def _weather_rule(body: dict[str, Any]) -> Any:
    """Call the weather tool, then answer with tomorrow's line of its result."""
    if not last_message_is_tool_result(body):
        return {"tool_calls": [{"name": "weather", "arguments": {"location": "Santiago, Chile"}}]}
    days = re.findall(
        r"\d{4}-\d\d-\d\d \w+: ([^,]+), max (\S+) / min (\S+),", body["messages"][-1]["content"]
    )
    sky, high, low = days[1] if len(days) > 1 else ("?", "?", "?")
    return f"Tomorrow in **Santiago, Chile**: {sky.lower()}.\nMax: {high}\nMin: {low}"


RESEARCH_QUESTION = "How big is Port Averly's tidal plant, and what did it cost?"


def _research_rule(page: str) -> Any:
    """The assistant hands the question to the researcher, which searches, reads the
    page at ``page`` and answers with a citation; the assistant answers from that."""

    def rule(body: dict[str, Any]) -> Any:
        system = str(body["messages"][0]["content"])
        results = [str(m["content"]) for m in body["messages"] if m["role"] == "tool"]
        if "careful researcher" in system:
            if not results:
                query = {"query": "Port Averly tidal energy plant"}
                return {"tool_calls": [{"name": "web_search", "arguments": query}]}
            if len(results) == 1:
                return {"tool_calls": [{"name": "read_page", "arguments": {"url": page}}]}
            return (
                "Port Averly's tidal lagoon has forty turbines, 320 MW at peak flow, "
                "and cost 1.3 billion euros [1].\n\n1. The Coastal Courier, " + page
            )
        if not results:
            task = {"task": RESEARCH_QUESTION + " Read the reports and compare them."}
            return {"tool_calls": [{"name": "researcher", "arguments": task}]}
        return (
            "Port Averly's tidal plant has **forty turbines** giving **320 MW** at peak "
            "flow, and it cost **€1.3 billion** (The Coastal Courier, [1])."
        )

    return rule


def _slow_weather_rule(body: dict[str, Any]) -> Any:
    """The weather rule on a model that takes 3 s per reply: ``--timeout 5`` cuts it."""
    return {**_as_reply(_weather_rule(body)), "delay": 3}


def _as_reply(reply: Any) -> dict[str, Any]:
    return reply if isinstance(reply, dict) else {"content": reply}


def _no_model() -> list[str]:
    """README command 1 on a machine where no model is configured yet."""
    saved = {k: os.environ.pop(k) for k in ("OPENAI_API_KEY", "AHORA_MODEL") if k in os.environ}
    os.environ["OLLAMA_HOST"] = "http://127.0.0.1:9"  # nothing listens there
    try:
        return run("What's the weather tomorrow in Santiago?")
    finally:
        os.environ.update(saved)
        del os.environ["OLLAMA_HOST"]


def _chat_rule(body: dict[str, Any]) -> Any:
    if not last_message_is_tool_result(body):
        call = {"name": "calculator", "arguments": {"expression": "1234 * 0.21"}}
        return {"tool_calls": [call]}
    return "21 % of 1,234 is **259.14**."


def _screen(child: pexpect.spawn, seen: io.StringIO) -> list[str]:
    child.expect(pexpect.EOF)
    child.close()
    return draw(seen.getvalue(), cols=COLS, rows=ROWS)


def run(*args: str) -> list[str]:
    child = spawn(*args, cols=COLS, rows=ROWS)
    child.logfile_read = seen = io.StringIO()
    return _screen(child, seen)


def chat() -> list[str]:
    child = spawn("chat", cols=COLS, rows=ROWS)
    child.logfile_read = seen = io.StringIO()
    child.expect("/help for commands")
    for line, done in (
        ("What is 21% of 1234?", "step"),
        ("/tools", "clock"),
        ("/usage", "output token"),
    ):
        child.expect("›")
        child.sendline(line)
        child.expect(done)
    child.expect("›")
    child.sendeof()
    return _screen(child, seen)


def _clean(lines: list[str], replacements: dict[str, str]) -> str:
    text = "\n".join(lines)
    for old, new in replacements.items():
        text = text.replace(old, new)
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)


def main() -> None:
    home = Path(tempfile.mkdtemp())
    docs = home / "handbook"
    docs.mkdir()
    (docs / "refunds.md").write_text(
        "# Refunds\n\nCustomers may ask for a refund within 30 days of purchase.\n"
        "Digital goods are not refundable once downloaded.\n"
    )
    (docs / "holidays.md").write_text("# Holidays\n\nEveryone gets 25 days of paid leave.\n")
    os.environ.update(AHORA_HOME=str(home / "data"), AHORA_ALLOW_PRIVATE_URLS="1")
    os.environ.update(OPENAI_API_KEY="test", AHORA_MODEL="openai:gpt-4.1-mini")
    os.chdir(ROOT)
    run("trust", str(ROOT))  # the repository's ./tools and ./agents, as a user would
    shots: list[tuple[str, list[str]]] = []
    first = _no_model()
    with OpenMeteoServer() as weather:
        os.environ.update(AHORA_GEOCODING_URL=weather.url, AHORA_OPEN_METEO_URL=weather.url)
        with OpenAIServer(rule=_chat_rule, models=("gpt-4.1-mini",)) as srv:
            os.environ["OPENAI_BASE_URL"] = srv.base_url
            chatted = chat()
        with OpenAIServer(rule=_weather_rule, models=("gpt-4.1-mini",)) as srv:
            os.environ["OPENAI_BASE_URL"] = srv.base_url
            question = "What's the weather tomorrow in Santiago?"
            shots.append((f'ahora "{question}"  # no model configured yet', first))
            shots.append((f'ahora "{question}"', run(question)))
            shots.append(("ahora chta", run("chta")))
            shots.append(('ahora --model opnai:gpt-4o "hi"', run("--model", "opnai:gpt-4o", "hi")))

    shots.append(("ahora chat", chatted))
    shots.append(("ahora threads", run("threads")))
    shots.append(("ahora threads show last", run("threads", "show", "last")))
    shots.append(("ahora tools", run("tools")))
    shots.append(("ahora agents", run("agents")))
    run("docs", "add", str(docs))
    shots.append(('ahora docs search "refund"', run("docs", "search", "refund")))
    with SearXNGServer() as search, PageServer(ipv6=False) as pages:
        page = pages.url("/article")
        search.corpus["Port Averly tidal energy plant"] = [
            {
                "url": page,
                "title": "Harbour town opens Europe's largest tidal energy plant",
                "content": "The tidal lagoon at Port Averly began feeding electricity ...",
            }
        ]
        os.environ["AHORA_SEARXNG_URL"] = search.url
        with OpenAIServer(rule=_research_rule(page), models=("gpt-4.1-mini",)) as srv:
            os.environ["OPENAI_BASE_URL"] = srv.base_url
            research = run("ask", RESEARCH_QUESTION)
        del os.environ["AHORA_SEARXNG_URL"]
    # Shown after the weather question, taken last so the other views stay as they were.
    shots.insert(2, (f'ahora ask "{RESEARCH_QUESTION}"', research))
    with OpenMeteoServer() as weather:
        os.environ.update(AHORA_GEOCODING_URL=weather.url, AHORA_OPEN_METEO_URL=weather.url)
        with OpenAIServer(rule=_slow_weather_rule, models=("gpt-4.1-mini",)) as srv:
            os.environ["OPENAI_BASE_URL"] = srv.base_url
            wrap_up = run("--timeout", "5", question)
    shots.append((f'ahora --timeout 5 "{question}"  # a model taking 3 s a reply', wrap_up))
    replacements = {str(ROOT): "~/ahora", str(home / "data"): "~/.local/share/ahora"}
    replacements[str(docs)] = "~/handbook"
    out = [
        "# ahora on an 80-column terminal",
        "",
        "What each view leaves on the screen, taken from the real program: "
        "`python docs/terminal.py > docs/terminal.md` runs every command in an 80 x 60 "
        "pseudo-terminal and reads the screen back as a VT100 draws it (pexpect and "
        "pyte). Colours and hyperlinks are not shown; live status lines have gone by "
        "the time a command ends. The model is ahora's loopback OpenAI-compatible "
        "server answering from a script, and the weather, search results and pages come "
        "from loopback stand-ins for Open-Meteo, SearXNG and a web page "
        "(`127.0.0.1:PORT`), so nothing here left the machine.",
        "",
    ]
    for command, lines in shots:
        out += [f"## `{command}`", "", "```console", f"$ {command}"]
        out += [_clean(lines, replacements), "```", ""]
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
