"""The renderers, fed typed events directly, drawing on a StringIO console."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ahora.answer import Answer
from ahora.cli.render import PlainRenderer, TerminalRenderer, describe_call
from ahora.events import (
    ApprovalRequested,
    Finished,
    StepStarted,
    Token,
    ToolCalled,
    ToolFinished,
    UsageReported,
)
from ahora.tools._common import source


def _answer() -> Answer:
    return Answer(
        text="It is **sunny** in Santiago (https://open-meteo.com/santiago).",
        sources=[
            source("https://open-meteo.com/santiago", "Open-Meteo forecast"),
            source("https://example.org/unused", "Unused page"),
        ],
        tool_calls=[{"name": "weather", "args": {"location": "Santiago"}}],
        usage={"input_tokens": 1200, "output_tokens": 34},
        thread_id="0123456789abcdef",
        model="test-model",
        steps=2,
        seconds=1.25,
    )


EVENTS = [
    StepStarted(1),
    Token("Let me check."),
    ToolCalled("c1", "web_search", {"query": "weather Santiago"}),
    ToolCalled("c2", "weather", {"location": "Atlantis"}),
    ToolFinished("c1", "web_search", "1. result", None, [source("https://a.example", "A")], 0.4),
    ToolFinished("c2", "weather", "Error: no place called Atlantis", "no place called Atlantis"),
    UsageReported(1200, 34),
    StepStarted(2),
    Token("It is "),
    Token("sunny."),
    Finished(_answer()),
]


def _console(**kw: object) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=80, color_system=None, _environ={}, **kw), buf  # type: ignore[arg-type]


def test_terminal_renderer_draws_tool_lines_answer_sources_and_footer() -> None:
    console, buf = _console(force_terminal=False)
    r = TerminalRenderer(console)
    r.start()
    for event in EVENTS:
        r.handle(event)
    out = buf.getvalue()
    assert '✓ Searching the web for "weather Santiago" · 0.4 s · 1 source' in out
    assert "✗ Weather for Atlantis failed: no place called Atlantis" in out
    assert "It is sunny in Santiago" in out  # Markdown rendered: no ** left
    assert "**" not in out
    assert "Let me check." not in out  # text before a tool call is not the answer
    # Only the cited source is listed, numbered, with its URL.
    assert "Sources\n1. Open-Meteo forecast\n   https://open-meteo.com/santiago" in out
    assert "Unused page" not in out
    assert "2 steps · 1,200+34 tokens · 1.2 s · test-model · thread 01234567" in out


def test_quiet_terminal_renderer_prints_only_answer_and_sources() -> None:
    console, buf = _console(force_terminal=False)
    r = TerminalRenderer(console, quiet=True)
    r.start()
    for event in EVENTS:
        r.handle(event)
    out = buf.getvalue()
    assert "✓" not in out and "steps" not in out
    assert out.startswith("It is sunny")


def test_live_status_line_shows_the_tool_in_words() -> None:
    console, buf = _console(force_terminal=True)
    r = TerminalRenderer(console)
    r.start()
    assert r.live is not None
    r.live.refresh()
    assert "Thinking ..." in buf.getvalue()
    r.handle(ToolCalled("c1", "read_page", {"url": "https://www.example.org/a/b"}))
    r.live.refresh()
    assert "Reading example.org/a/b ..." in buf.getvalue()
    r.stop()


@pytest.mark.parametrize(
    ("name", "args", "words"),
    [
        ("web_search", {"query": "euro rate"}, 'Searching the web for "euro rate"'),
        ("read_page", {"url": "https://example.org/"}, "Reading example.org"),
        ("weather", {"location": "Santiago, Chile"}, "Weather for Santiago, Chile"),
        ("weather", {"location": " "}, "Weather"),  # not "Weather for  failed"
        ("weather", {}, "Weather"),
        ("calculator", {"expression": "2^10"}, "Calculating 2^10"),
        ("clock", {}, "Checking the clock"),
        ("clock", {"timezone": "Asia/Tokyo"}, "Checking the clock in Asia/Tokyo"),
        ("my_plugin", {"x": 1}, "Running my_plugin"),
    ],
)
def test_describe_call(name: str, args: dict[str, object], words: str) -> None:
    assert describe_call(name, args) == words


def test_plain_renderer_answer_on_stdout_progress_only_when_verbose() -> None:
    out, err = io.StringIO(), io.StringIO()
    r = PlainRenderer(out, err)
    r.start()
    for event in EVENTS:
        r.handle(event)
    assert out.getvalue() == _answer().text + "\n"
    # Not verbose: only the failed tool is reported.
    assert err.getvalue() == "Weather for Atlantis failed: no place called Atlantis\n"

    out, err = io.StringIO(), io.StringIO()
    r = PlainRenderer(out, err, verbose=True)
    r.start()
    for event in EVENTS:
        r.handle(event)
    assert 'Searching the web for "weather Santiago" ...' in err.getvalue()
    assert "2 steps" in err.getvalue()
    assert out.getvalue() == _answer().text + "\n"


def test_declined_calls_and_stopped_answers_are_said_plainly() -> None:
    declined = "User rejected the tool call for `calculator` with reason: The user declined."
    answer = _answer()
    answer.stopped_early = True
    events = [
        StepStarted(1),
        ToolCalled("c1", "calculator", {"expression": "6*7"}),
        ApprovalRequested("c1", "calculator", {"expression": "6*7"}),
        ToolFinished("c1", "calculator", declined, declined),
        Finished(answer),
    ]
    console, buf = _console(force_terminal=False)
    r = TerminalRenderer(console, stopped_hint="/continue to keep going.")
    for event in events:
        r.handle(event)
    out = buf.getvalue()
    assert "✗ Calculating 6*7 declined" in out and "failed" not in out
    assert "Stopped early: budget reached. /continue to keep going." in out
    err = io.StringIO()
    plain = PlainRenderer(io.StringIO(), err)
    for event in events:
        plain.handle(event)
    assert err.getvalue() == "Stopped early: budget reached.\n"


def test_a_long_source_url_stays_on_one_line() -> None:
    url = "https://api.open-meteo.com/v1/forecast?" + "&".join(f"v{i}=x" for i in range(60))
    answer = _answer()
    answer.text = f"Forecast from {url}"
    answer.sources = [source(url, "Open-Meteo forecast")]
    console, buf = _console(force_terminal=False)
    TerminalRenderer(console).show_answer(answer)
    lines = buf.getvalue().splitlines()
    sources = lines[lines.index("Sources") :]
    assert sources[1] == "1. Open-Meteo forecast"
    assert sources[2].startswith("   https://api.open-meteo.com/v1/forecast?v0=x")
    assert sources[2].endswith("…") and len(sources[2]) == 80
    assert "v59=x" not in "\n".join(sources)


def test_answer_keeps_the_models_line_breaks_and_still_renders_markdown() -> None:
    console, buf = _console()
    text = (
        "Máxima: 29 °C\nMínima: 14 °C\n\n## Mañana\n\n- **lluvia**: no\n- viento: 10 km/h\n\n"
        "```\ncode  block\n```"
    )
    TerminalRenderer(console, quiet=True).show_answer(Answer(text=text))
    lines = [line.rstrip() for line in buf.getvalue().splitlines()]
    assert "Máxima: 29 °C" in lines and "Mínima: 14 °C" in lines  # two lines, not one
    assert "**" not in buf.getvalue() and "##" not in buf.getvalue()  # Markdown rendered
    assert any(line.strip() == "• lluvia: no" for line in lines)  # a list
    assert any("code  block" in line for line in lines)  # a code block, spaces kept


def test_plural_and_footer_say_one_step() -> None:
    from ahora.cli.layout import plural
    from ahora.cli.render import footer_text

    assert plural(1, "turn") == "1 turn" and plural(2, "turn") == "2 turns"
    assert plural(1234, "token") == "1,234 tokens"
    assert footer_text(Answer(text="x", steps=1)).startswith("1 step · ")
