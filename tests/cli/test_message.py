"""Every family of ahora's own messages, drawn on an 80-column screen: no word is
broken by the terminal, continuation lines sit under the text they continue, and
piped output keeps each message whole (``ahora.cli.message``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ahora.cli.chat_cmd import HELP as CHAT_HELP
from ahora.cli.message import logical_lines, wrap
from ahora.models import NO_MODEL_HELP
from tests.cli.screen import draw, screen_of

LONG_URL = "https://docs.example.org/guides/very/long/path/" + "segment/" * 12 + "end.html"

FAMILIES = {
    "no model": "Error: " + NO_MODEL_HELP,
    "context window": (
        "Error: the conversation no longer fits the model's context window (128,000 tokens),"
        " even after dropping the oldest turns; start a new thread with `ahora chat` or"
        " /new, or choose a model with a larger window"
    ),
    "unknown provider": (
        "Error: unknown model provider 'opnai' in 'opnai:gpt-4o'; did you mean "
        "openai:gpt-4o? known providers: anthropic, azure_openai, bedrock, cohere, "
        "deepseek, fireworks, google_genai, groq, mistralai, ollama, openai, together, xai"
    ),
    "docs add": (
        "Indexed /home/someone/projects/handbook: 120 added, 3 updated, 40 unchanged,"
        " 0 removed, 2 skipped; 1,234 chunks in 0.42 s"
    ),
    "untrusted folder": (
        "Warning: skipped ./tools (2 files) and ./agents (1 file) in /home/someone/src/"
        "project: the folder is not trusted. Read them, then run: ahora trust "
        "/home/someone/src/project"
    ),
    "export skipped": (
        "Skipped b43dc4e9a1f2: no assistant reply (the turn failed before the model "
        "answered, so there is nothing to train on)"
    ),
    "local tool": (
        "Warning: could not load tools/shout.py: NameError: name 'undefined_helper' is not"
        " defined (fix the file, or move it out of ./tools)"
    ),
    "models server": (
        "  ✗ http://127.0.0.1:9/api/tags: could not connect to 127.0.0.1:9 (nothing is"
        " listening on that port)"
    ),
    "chat help": CHAT_HELP,
    "long url": f"Error: could not read {LONG_URL}: HTTP 404 Not Found",
}


def _words_whole(text: str, lines: list[str]) -> None:
    screen_words = {w for line in lines for w in line.split()}
    for word in text.split():
        if len(word) > 70 and "://" in word:  # a URL longer than a line: cut with "…"
            assert any(w.endswith("…") and word.startswith(w[:-1]) for w in screen_words)
            continue
        assert word in screen_words, f"{word!r} broken on the screen:\n" + "\n".join(lines)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_message_family_fits_80_columns(family: str) -> None:
    text = FAMILIES[family]
    lines = draw(wrap(text, 80).replace("\n", "\r\n"), cols=80)
    assert all(len(line) <= 80 for line in lines)
    _words_whole(text, lines)


def test_continuations_sit_under_their_column() -> None:
    lines = wrap(CHAT_HELP, 60).splitlines()
    agent = next(i for i, line in enumerate(lines) if line.startswith("/agent"))
    assert lines[agent + 1].startswith(" " * 16) and lines[agent + 1].strip()
    no_model = wrap("Error: " + NO_MODEL_HELP, 60).splitlines()
    item4 = next(i for i, line in enumerate(no_model) if line.startswith("  4."))
    assert no_model[item4 + 1].startswith("     ") and not no_model[item4 + 1].startswith("      ")


def test_hand_wrapped_lines_are_joined_when_piped() -> None:
    text = "  2. KEY=v      one two\n                three four"
    assert logical_lines(text) == ["  2. KEY=v      one two three four"]


def test_no_model_screen_at_80_columns() -> None:
    """README command 1 on a fresh machine: the help is readable as drawn."""
    lines = screen_of("what is the weather in Santiago tomorrow?", cols=80)
    text = "\n".join(lines)
    assert "No model is configured" in text
    _words_whole("Error: " + NO_MODEL_HELP, lines)
    assert "Agent(model=...)" in text and "create_agent" not in text


def test_models_command_at_80_columns() -> None:
    lines = screen_of("models", cols=80)
    server = [line for line in lines if line.startswith("  ✗ http://")]
    assert server, lines
    # Nothing listens on port 9: said so, not "network down or host unreachable".
    assert "nothing is listening there" in " ".join(" ".join(lines).split())
    following = lines[lines.index(server[0]) + 1]
    assert not following.strip() or following.startswith("    "), lines


def test_piped_messages_are_whole_lines(tmp_path: Path) -> None:
    """A pipe gets each message as one line (grep finds it), however long."""
    proc = subprocess.run(
        [sys.executable, "-m", "ahora", "ask", "what", "now?"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert re.search(r"^  2\. OPENAI_API_KEY=.*LM Studio.*OPENAI_BASE_URL=", proc.stderr, re.M), (
        proc.stderr
    )


def test_untrusted_folder_warning_at_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real warning (``./tools`` in an untrusted folder) as drawn by the terminal."""
    project = tmp_path / "proj"
    (project / "tools").mkdir(parents=True)
    (project / "tools" / "shout.py").write_text("x = 1\n")
    monkeypatch.chdir(project)
    lines = screen_of("tools", cols=80)
    warning = [i for i, line in enumerate(lines) if line.startswith("Warning: skipped ./tools")]
    assert warning, lines
    text = " ".join(lines[warning[0] : warning[0] + 4])
    assert "Read them, then run: ahora trust" in " ".join(text.split())
    assert all(len(line) <= 80 for line in lines)
    _words_whole(f"Read them, then run: ahora trust {project}", lines)


def test_a_long_path_is_kept_whole_a_long_url_is_cut() -> None:
    path = "/home/someone/" + "deep/" * 20 + "project"
    wrapped = wrap(f"Read them, then run: ahora trust {path}", 80)
    assert path in wrapped.replace("\n", "")  # the user may have to type it
    url = "https://example.org/" + "segment/" * 20
    assert "…" in wrap(f"could not read {url}", 80)


def test_wrap_keeps_every_word_in_order_and_within_the_width() -> None:
    """Invariants over many generated messages (markers, columns, long words, widths)."""
    import random

    rng = random.Random(22)
    vocab = ["a", "to", "the", "model", "OPENAI_BASE_URL=http://h:1/v1", "x" * 30, "é", "/v1"]
    for _ in range(400):
        width = rng.randint(20, 120)
        lines = []
        for _ in range(rng.randint(1, 4)):
            lead = rng.choice(["", "  ", "  1. ", "- ", "/help   ", "  ✗ "])
            words = [rng.choice(vocab) for _ in range(rng.randint(1, 40))]
            lines.append(lead + " ".join(words))
        text = "\n".join(lines)
        out = wrap(text, width)
        assert out.split() == text.split()  # nothing lost, split or reordered
        for line in out.splitlines():
            assert len(line) <= width or len(line.split()) == 1 or len(line.split()[-1]) > 20
