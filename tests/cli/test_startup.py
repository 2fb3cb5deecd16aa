"""Start-up: the commands that run no model import no heavy library, so they start in a
fraction of a second (``benchmarks/bench_cli.py`` has the figures). pydantic is on the
list because typer 0.27+ imports it to check every parameter (+150 ms CPU per start,
hence the pin in pyproject.toml); LangChain and LangGraph take seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("pydantic", "langchain", "langchain_core", "langgraph", "openai")


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["tools"],
        ["threads"],
        ["ask", "--help"],
        ["ask"],  # no question on stdin: refused after parsing, before any model
    ],
    ids=" ".join,
)
def test_commands_that_run_no_model_import_nothing_heavy(tmp_path: Path, argv: list[str]) -> None:
    code = (
        "import json, sys\n"
        "from ahora.cli.main import app\n"
        "try:\n"
        f"    app({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "sys.__stderr__.write('HEAVY ' + json.dumps(heavy) + '\\n')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AHORA_", "OPENAI_"))}
    env.update(AHORA_HOME=str(tmp_path), NO_COLOR="1")
    # The first `ahora tools` builds the registry's catalogue cache; later ones read it.
    warm = "from ahora.cli.main import app\napp(['tools'], standalone_mode=False)\n"
    subprocess.run([sys.executable, "-c", warm], env=env, capture_output=True, timeout=60)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = [x for x in done.stderr.splitlines() if x.startswith("HEAVY ")]
    assert line, done.stderr
    assert json.loads(line[0].removeprefix("HEAVY ")) == [], line[0]
