"""No output path of any command lets a control sequence through.

One hostile string (OSC 52 clipboard write, OSC 8 fake link, a screen clear, CR
overwrite, BEL, backspace, DEL, C1 CSI/OSC, bidi override and isolate) is planted
wherever outside text can come from: the question, the model's answer and tool names,
page-like tool arguments, thread ids, agent and folder names, document file names and
contents, the working folder's name. Every command is then driven through its public
entry (``CliRunner`` on ``ahora.cli.main.app``), and *everything* the process wrote to
stdout and stderr, by whatever path (rich, ``typer.echo``, ``print``, warnings), is
checked for a single control character. No tty: rich adds no codes of its own, so any
control character in the output came from the hostile text.

A new command is swept automatically: ``test_every_command_with_hostile_arguments``
walks the command tree and fills every argument with the hostile string.
"""

from __future__ import annotations

import json
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from ahora.cli.main import app
from ahora.testing.openai_server import OpenAIServer, last_message_is_tool_result

StartServer = Callable[..., OpenAIServer]

HOSTILE = (
    "x\x1b]52;c;cHduZWQ=\x07\x1b[2J\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\"
    "\rOVERWRITTEN\x9b31m\x9d0;PWNED\x9c\u202egnirts\u2066iso\u2069\x08\x7fend"
)
#: The same, fit for a file or folder name (no slash, no NUL).
HOSTILE_NAME = HOSTILE.replace("/", "_")
#: What a text file may hold and still be indexed (C0 controls make it "binary").
HOSTILE_TEXT = "\x9b31m\x9d0;PWNED\x9c\u202egnirts\u2066iso\u2069\u200fend"

# Every character the sanitiser must show instead of writing (``safe_text._UNSAFE``),
# written out here so that shrinking that set fails this test.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


def assert_inert(result: Any, what: str) -> str:
    """Everything the command wrote, checked; returns it as text."""
    written = result.stdout_bytes + (result.stderr_bytes or b"")
    text = written.decode("utf-8", errors="replace")
    found = _CONTROL.search(text)
    assert found is None, (
        f"{what}: {found.group()!r} reached the terminal at {found.start()}: "
        f"{text[max(0, found.start() - 80) : found.start() + 40]!r}"
    )
    return text


@contextmanager
def warnings_on_stderr() -> Iterator[None]:
    """Warnings written as the CLI writes them (pytest would otherwise collect them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("always")

        def show(message: Any, category: Any, filename: str, lineno: int, *a: Any) -> None:
            # What Python does by default (pytest records instead): the formatted
            # warning on the current stderr, which the runner captures.
            sys.stderr.write(warnings.formatwarning(message, category, filename, lineno))

        warnings.showwarning = show
        yield


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty data dir and config, and a working folder whose name is hostile and
    that holds an untrusted ./tools file (so commands that load tools warn about it)."""
    data = tmp_path / "home"
    monkeypatch.setenv("AHORA_HOME", str(data))
    monkeypatch.setenv("AHORA_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "100")
    work = tmp_path / HOSTILE_NAME
    (work / "tools").mkdir(parents=True)
    (work / "tools" / "extra.py").write_text("X = 1\n", encoding="utf-8")
    monkeypatch.chdir(work)
    yield data


def _hostile_rule(body: dict[str, Any]) -> Any:
    """Call a tool with a hostile name and arguments, then answer with hostile text."""
    if last_message_is_tool_result(body):
        return f"The answer: {HOSTILE}\n\n- a list item {HOSTILE}\n\n[a link]({HOSTILE})"
    return {"tool_calls": [{"name": f"tool{HOSTILE}", "arguments": {"q": HOSTILE}}]}


def _run(runner: CliRunner, args: list[str], **kw: Any) -> str:
    result = runner.invoke(app, args, catch_exceptions=False, **kw)
    return assert_inert(
        result, "ahora " + " ".join(a.encode("unicode_escape").decode() for a in args)
    )


def test_every_output_path_of_a_hostile_conversation_is_inert(
    home: Path, model_server: StartServer
) -> None:
    runner = CliRunner()
    model_server(rule=_hostile_rule)
    question = f"What about {HOSTILE_TEXT} {HOSTILE}?"  # a title keeps 80 characters
    # ask: the live render, the answer, the tool's name and arguments, the warning
    # about the untrusted ./tools in a hostile folder, in plain and verbose and JSON.
    with warnings_on_stderr():
        shown = _run(runner, ["ask", question])
    assert "The answer" in shown  # the command did run
    assert "Warning: skipped ./tools" in shown  # and warned, in a hostile folder's name
    _run(runner, ["ask", "-v", question])
    _run(runner, ["ask", "--json", question])
    _run(runner, ["chat"], input=f"{question}\n/help\n/threads\n/quit\n")

    # threads: the table, JSON lines, one thread shown, export (the hostile tool name
    # makes it skip the threads with a reason), rm.
    listing = _run(runner, ["threads"])
    assert "What about" in listing
    lines = _run(runner, ["threads", "--json"])
    ids = [json.loads(line)["id"] for line in lines.splitlines() if line.startswith("{")]
    assert len(ids) >= 3, lines
    _run(runner, ["threads", "show", ids[0]])
    _run(runner, ["threads", "show", "last"])
    exported = _run(runner, ["threads", "export"])
    assert "Skipped" in exported  # the path under test was taken
    _run(runner, ["threads", "export", ids[0], "--output", str(home / "out.jsonl")])
    deleted = _run(runner, ["threads", "rm", ids[0]])
    assert "Deleted" in deleted

    # errors naming what the user (or a script) passed
    for args in (
        ["threads", "show", HOSTILE],
        ["threads", "rm", HOSTILE],
        ["threads", "export", HOSTILE],
        ["ask", "--agent", HOSTILE, "hi"],
        ["ask", "--model", f"openai:{HOSTILE}", "--thread", HOSTILE, "hi"],
        ["config", "show", "--agent", HOSTILE],
        ["agents", "show", HOSTILE],
        ["docs", "rm", HOSTILE],
        ["trust", HOSTILE],
    ):
        result = runner.invoke(app, args, catch_exceptions=False)
        assert_inert(result, " ".join(args[:2]))
        assert result.exit_code != 0 or args[0] == "trust", args


def test_docs_paths_with_hostile_file_names_and_text_are_inert(home: Path) -> None:
    runner = CliRunner()
    folder = home.parent / f"docs{HOSTILE_NAME}"
    folder.mkdir()
    body = f"Glaciers retreat every year. {HOSTILE} The glacier report has numbers.\n"
    (folder / f"glacier{HOSTILE_NAME}.md").write_text(body * 5, encoding="utf-8")
    (folder / f"broken{HOSTILE_NAME}.pdf").write_bytes(b"%PDF-1.4 not really\x1b]52;c;x\x07")
    (folder / f"report{HOSTILE_NAME}.md").write_text(
        f"The glacier report {HOSTILE_TEXT} says\n" * 3, encoding="utf-8"
    )
    _run(runner, ["docs", "add", str(folder)])
    _run(runner, ["docs", "list"])
    found = _run(runner, ["docs", "search", "glacier report"])
    assert "PWNED" in found  # the snippet path was taken
    _run(runner, ["docs", "search", f"glacier {HOSTILE}"])
    _run(runner, ["docs", "rm", str(folder)])


def _leaf_commands() -> Iterator[tuple[list[str], list[Any]]]:
    root = typer.main.get_command(app)
    ctx = root.context_class(root)

    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[list[str], list[Any]]]:
        if hasattr(cmd, "list_commands"):
            if path:  # a group with a callback of its own (``ahora threads``)
                yield path, []
            for name in cmd.list_commands(ctx):
                yield from walk(cmd.get_command(ctx, name), [*path, name])
        else:
            yield path, [p for p in cmd.params if type(p).__name__ == "Argument"]

    yield from walk(root, [])


COMMANDS = list(_leaf_commands())


@pytest.mark.parametrize(
    ("path", "arguments"), COMMANDS, ids=[" ".join(p) or "ahora" for p, _ in COMMANDS]
)
def test_every_command_with_hostile_arguments(
    path: list[str], arguments: list[Any], home: Path, model_server: StartServer
) -> None:
    model_server(rule=_hostile_rule)
    args = [*path]
    for argument in arguments:
        args += [HOSTILE] * (2 if argument.nargs == -1 else 1)
    with warnings_on_stderr():
        result = CliRunner().invoke(app, args, input=f"{HOSTILE}\n/quit\n", catch_exceptions=False)
    assert_inert(result, " ".join(path))


def test_the_check_itself_sees_a_leak(home: Path) -> None:
    """The assertion above fails on any of the hostile characters (so it can fail)."""

    class Written:
        stdout_bytes = f"ok {HOSTILE}".encode()
        stderr_bytes = b""

    with pytest.raises(AssertionError):
        assert_inert(Written(), "planted")
    for char in HOSTILE:
        if not char.isprintable() and char not in "\n\t":
            Written.stdout_bytes = f"ok {char}".encode()
            with pytest.raises(AssertionError):
                assert_inert(Written(), repr(char))
