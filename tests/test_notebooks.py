"""The notebooks in notebooks/ run top to bottom (offline: no model is configured in
tests, so they use their scripted stand-in while the tools run for real)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.fixture
def kernel_of_this_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``python3`` kernelspec that runs this interpreter (this venv's ipykernel),
    found first on JUPYTER_PATH, whatever else is installed on the machine."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (ahora tests)",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")


def test_there_are_notebooks() -> None:
    assert {p.name for p in NOTEBOOKS} >= {"quickstart.ipynb", "custom_tools.ipynb"}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, kernel_of_this_python: None) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on failure
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code_cells)
    errors = [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    assert errors == []
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
        for c in code_cells
        for o in c.outputs
    )
    assert "scripted stand-in plays the model" in text
    if path.stem == "quickstart":
        assert "flowchart" in text or "graph TD" in text  # the Mermaid drawing
        assert "calling calculator(" in text
        assert "messages in the thread: ['human', 'ai', 'tool', 'ai', 'human'" in text
    if path.stem == "agents_calling_agents":
        assert "researcher made ['clock', 'clock', 'calculator'] in 4 steps" in text
        assert "steps in all, from one budget: 6" in text
        shown = "\n".join(
            str(o.get("data", {}).get("text/markdown", "")) for c in code_cells for o in c.outputs
        )
        assert "**Handed to other agents**" in shown  # the answer lists the sub-run
        assert "> **researcher** · ✓ <code>calculator</code>" in shown  # grouped steps
    if path.stem == "custom_tools":
        assert "the model chose days_until" in text
        assert "weeks_until  local:" in text
