"""Helper processes never run code from the working folder (issue 18, item 1).

A cloned repository may hold ``json.py``, ``signal.py``, ``selectors.py``... which
``python -c`` would import ahead of the standard library, with the API key in the
environment. Each helper ahora starts (the parsing worker behind ``read_page`` and
``ahora docs add``, the MCP stderr relay) runs here in a folder planted with such
modules; each module would leave a marker, and none may.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ahora import worker

SERVER = Path(__file__).parent / "fixtures" / "mcp_server.py"
# Names the helpers (or what they import) would look up on sys.path.
PLANTED = ["json", "signal", "selectors", "importlib", "re", "resource", "select", "html"]
PLANTED_PACKAGES = ["encodings", "ahora", "trafilatura", "lxml"]


@pytest.fixture
def planted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cloned folder full of stdlib-named modules that each write a marker, the
    working folder, with an API key in the environment."""
    folder = tmp_path / "clone"
    markers = tmp_path / "markers"
    folder.mkdir()
    markers.mkdir()

    def body(name: str) -> str:
        return f"open({str(markers / name)!r}, 'w').write('ran')\n"

    for name in PLANTED:
        (folder / f"{name}.py").write_text(body(name))
    for name in PLANTED_PACKAGES:
        (folder / name).mkdir()
        (folder / name / "__init__.py").write_text(body(name))
    (folder / "notes.md").write_text("# Notes\n\nThe lagoon opened in spring.\n")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-of-the-user")
    worker._shutdown()  # no worker started elsewhere may answer
    yield markers
    worker._shutdown()


def ran(markers: Path) -> list[str]:
    return sorted(p.name for p in markers.iterdir())


def test_the_parsing_worker_imports_nothing_from_the_folder_and_gets_no_keys(
    planted: Path,
) -> None:
    page = b"<html><body><article><p>The lagoon opened in spring.</p></article></body></html>"
    found = worker.run("ahora.pages:extract_for_worker", page, seconds=60, url=None, encoding=None)
    assert "lagoon" in found["text"]
    seen = worker.run("tests.fixtures.probe:surroundings", b"", seconds=60)
    assert "OPENAI_API_KEY" not in seen["env"]
    assert seen["cwd"] == "/"
    assert str(Path.cwd()) not in seen["path"] and "" not in seen["path"]
    assert ran(planted) == []


def test_read_page_refused_starts_no_worker_and_runs_nothing(planted: Path) -> None:
    from ahora.tools.read_page import read_page

    msg = read_page.invoke(
        {
            "type": "tool_call",
            "id": "c1",
            "name": "read_page",
            "args": {"url": "http://127.0.0.1:9/"},
        }
    )
    assert "refusing to read" in str(msg.content)
    assert worker._idle == []  # not warmed before the guard said yes
    assert ran(planted) == []


def test_docs_add_dot_runs_nothing_from_the_folder(planted: Path, tmp_path: Path) -> None:
    """The real console script, as a user runs it in a freshly cloned folder."""
    exe = shutil.which("ahora", path=str(Path(sys.executable).parent))
    assert exe is not None
    done = subprocess.run([exe, "docs", "add", "."], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "added" in done.stdout, done.stdout
    assert ran(planted) == []


def test_the_mcp_relay_runs_nothing_from_the_folder(planted: Path) -> None:
    from ahora.mcp import load_server_tools

    tools = load_server_tools("demo", {"command": sys.executable, "args": [str(SERVER)]})
    add = next(t for t in tools if t.name == "add")
    assert "42" in str(add.invoke({"a": 20, "b": 22}))
    assert ran(planted) == []


def test_a_helper_is_started_isolated() -> None:
    from ahora.subprocesses import helper, start

    h = helper("tests.fixtures.probe:surroundings", env={"ONLY": "this"})
    assert h.argv[1] == "-I" and h.cwd == "/"
    assert "ONLY" in h.env and not any(k.endswith("_API_KEY") for k in h.env)
    code = (
        "import json, os, sys; "
        "print(json.dumps({'cwd': os.getcwd(), 'env': sorted(os.environ), 'path': sys.path}))"
    )
    proc = start(helper("builtins:exec", code, env={"ONLY": "this"}), stdout=subprocess.PIPE)
    out, _ = proc.communicate(timeout=60)
    seen = json.loads(out)
    assert seen["cwd"] == "/" and "ONLY" in seen["env"] and "" not in seen["path"]
