"""The tool registry: built-ins through entry points, plugins, local tool files,
problems reported once, and the fast describe cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.tools import BaseTool, tool

from ahora.errors import InvalidTool
from ahora.settings import get_settings
from ahora.tools import registry
from ahora.tools.registry import (
    BUILTIN,
    ToolLoadWarning,
    as_tools,
    available_tools,
    describe_tools,
    load_builtin_tools,
    load_tools,
    tool_problems,
)
from ahora.trust import trust

PLUGIN = Path(__file__).parent / "fixtures" / "plugin_pkg"
BUILTINS = ["web_search", "read_page", "weather", "calculator", "clock"]

GOOD_TOOL = '''
from langchain_core.tools import tool


@tool
def shout(text: str) -> str:
    """Say it louder.

    Args:
        text: What to say.
    """
    return text.upper()
'''


def install_plugin(site: Path) -> None:
    """Write what an installer writes for tests/fixtures/plugin_pkg: module + dist-info."""
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    shutil.copytree(PLUGIN / "src" / "ahora_plugin_demo", site / "ahora_plugin_demo")
    info = site / f"ahora_plugin_demo-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    entries = project["entry-points"]["ahora.tools"]
    (info / "entry_points.txt").write_text(
        "[ahora.tools]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items())
    )


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    site = tmp_path / "site"
    site.mkdir()
    install_plugin(site)
    monkeypatch.syspath_prepend(str(site))
    yield
    for name in [m for m in sys.modules if m.startswith("ahora_plugin_demo")]:
        del sys.modules[name]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from an empty folder, so the repository's ./tools is not picked up."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_builtins_arrive_through_entry_points(elsewhere: Path) -> None:
    infos = describe_tools(settings=get_settings())
    assert [i.name for i in infos] == BUILTINS
    assert {i.origin for i in infos} == {"builtin"}
    assert all(i.description for i in infos)
    assert tool_problems(settings=get_settings()) == []
    assert [t.name for t in load_builtin_tools()] == BUILTINS


def test_builtin_map_stands_in_without_package_metadata() -> None:
    assert registry._builtin_targets([]) == list(BUILTIN.items())


def test_plugin_tools_load_and_broken_entries_become_problems(
    plugin: None, elsewhere: Path
) -> None:
    with pytest.warns(ToolLoadWarning) as caught:
        tools = available_tools(settings=get_settings())
    assert {"reverse_text", "word_count"} <= set(tools)
    assert tools["reverse_text"].invoke({"text": "ahora"}) == "aroha"
    # The duplicate did not replace the built-in calculator.
    assert "2 + 2" not in str(tools["calculator"].description)
    assert tools["calculator"].invoke({"expression": "2+2"}) != "42"

    origins = {i.name: i.origin for i in describe_tools(settings=get_settings())}
    assert origins["reverse_text"] == origins["word_count"] == "plugin:ahora-plugin-demo"
    assert origins["calculator"] == "builtin"

    problems = tool_problems(settings=get_settings())
    assert len(problems) == 3, problems
    text = "\n".join(problems)
    assert "'missing'" in text and "ModuleNotFoundError" in text
    assert "'version'" in text and "is not a tool (got str)" in text
    assert (
        "tool 'calculator' from plugin:ahora-plugin-demo skipped: the name is taken by builtin"
        in text
    )
    assert sorted(str(w.message) for w in caught) == sorted(problems)

    # Reported once: the same sources do not warn again in this process.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ToolLoadWarning)
        assert set(available_tools(settings=get_settings())) == set(tools)


def test_agent_calls_a_plugin_tool_by_name(plugin: None, elsewhere: Path) -> None:
    from ahora import Agent
    from ahora.testing import ScriptedChatModel, tool_call

    model = ScriptedChatModel(replies=[tool_call("reverse_text", {"text": "stressed"}), "Done."])
    with pytest.warns(ToolLoadWarning):
        agent = Agent(model, tools=["reverse_text", "clock"])
    answer = agent.ask("Reverse 'stressed'.")
    assert answer.text == "Done."
    tool_message = model.requests[1][-1]
    assert "desserts" in str(tool_message.content)


def test_local_tool_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: Path) -> None:
    folder = tmp_path / "my-tools"
    folder.mkdir()
    (folder / "shout.py").write_text(GOOD_TOOL)
    (folder / "broken.py").write_text("import not_a_module_anywhere\n")
    (folder / "empty.py").write_text("X = 1\n")
    (folder / "_helper.py").write_text("raise RuntimeError('never imported')\n")
    (folder / "clash.py").write_text(GOOD_TOOL.replace("def shout", "def clock"))
    monkeypatch.setenv("AHORA_TOOLS_DIR", str(folder))

    infos = {i.name: i for i in describe_tools(settings=get_settings())}
    assert infos["shout"].origin == f"local:{folder / 'shout.py'}"
    assert infos["shout"].description == "Say it louder."
    assert infos["clock"].origin == "builtin"
    problems = "\n".join(tool_problems(settings=get_settings()))
    assert "broken.py' failed to load: ModuleNotFoundError" in problems
    assert "empty.py' defines no tools" in problems
    assert "tool 'clock' from local:" in problems and "taken by builtin" in problems
    assert "_helper" not in problems
    assert available_tools(settings=get_settings())["shout"].invoke({"text": "hi"}) == "HI"


def test_dot_tools_is_used_when_no_tools_dir_is_set(elsewhere: Path) -> None:
    (elsewhere / "tools").mkdir()
    (elsewhere / "tools" / "shout.py").write_text(GOOD_TOOL)
    trust(elsewhere, get_settings().home)  # only a trusted folder's ./tools (tests/test_trust.py)
    assert {i.name: i.origin for i in describe_tools(settings=get_settings())}[
        "shout"
    ] == "local:tools/shout.py"


def test_missing_tools_dir_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: Path
) -> None:
    monkeypatch.setenv("AHORA_TOOLS_DIR", str(tmp_path / "nowhere"))
    assert [i.name for i in describe_tools(settings=get_settings())] == BUILTINS
    assert tool_problems(settings=get_settings()) == [
        f"tools_dir '{tmp_path / 'nowhere'}' is not a folder; no local tools loaded"
    ]


def test_describe_cache_follows_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: Path
) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    monkeypatch.setenv("AHORA_TOOLS_DIR", str(folder))
    path = folder / "mine.py"
    path.write_text(GOOD_TOOL)
    assert "shout" in {i.name for i in describe_tools(settings=get_settings())}
    cache = get_settings().cache_dir / "tool_catalog.json"
    assert "shout" in cache.read_text()

    path.write_text(GOOD_TOOL.replace("def shout", "def whisper"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    names = {i.name for i in describe_tools(settings=get_settings())}
    assert "whisper" in names and "shout" not in names
    (latest,) = [
        e
        for e in json.loads(cache.read_text())["entries"].values()
        if e["tools"][-1]["name"] == "whisper"
    ]
    assert latest["problems"] == []


def test_refresh_loads_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, elsewhere: Path
) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    monkeypatch.setenv("AHORA_TOOLS_DIR", str(folder))
    first = load_tools(settings=get_settings())
    assert [i.name for i in describe_tools(settings=get_settings(), refresh=True)] == BUILTINS
    assert (
        load_tools(settings=get_settings()) is not first
    )  # the memo was dropped and the sources loaded again


def test_describe_from_cache_does_not_import_langchain(tmp_path: Path, elsewhere: Path) -> None:
    code = (
        "import sys\n"
        "from ahora.settings import get_settings\n"
        "from ahora.tools.registry import describe_tools\n"
        "names = [i.name for i in describe_tools(settings=get_settings())]\n"
        "print(len(names), 'langchain_core' in sys.modules)\n"
    )
    env = {**os.environ, "AHORA_HOME": str(tmp_path / "home")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs[0] == ["5", "True"]  # cold: loads the tools, writes the cache
    assert runs[1] == ["5", "False"]  # warm: the cache alone


def test_as_tools_contract() -> None:
    @tool
    def one(x: int) -> int:
        """Return x.

        Args:
            x: A number.
        """
        return x

    def factory() -> list[BaseTool]:
        return [one]

    assert as_tools(one, "t") == [one]
    assert as_tools([one], "t") == [one]
    assert as_tools(factory, "t") == [one]
    assert as_tools(lambda: one, "t") == [one]
    for bad in (42, [], [one, "x"], lambda: 3):
        with pytest.raises(InvalidTool, match="is not a tool"):
            as_tools(bad, "t")


def test_load_tools_is_memoised_per_sources(elsewhere: Path) -> None:
    first = load_tools(settings=get_settings())
    assert load_tools(settings=get_settings()) is first
    assert load_tools(settings=get_settings()).tools["clock"] is first.tools["clock"]


def test_a_tool_name_providers_refuse_is_skipped_as_a_problem() -> None:
    """OpenAI refuses the whole request when one function name has a dot or a space:
    one odd MCP tool would break every question, so it is skipped and reported."""

    @tool("odd.tool name")
    def odd(x: int) -> int:
        """A tool with a name no provider accepts."""
        return x

    @tool("get_time-2")
    def fine(x: int) -> int:
        """A tool with an acceptable name."""
        return x

    found = registry.ToolSet()
    found.add([odd, fine], "mcp:odd")
    assert list(found.tools) == ["get_time-2"]
    assert found.problems == [
        "tool 'odd.tool name' from mcp:odd skipped: model providers accept only letters, "
        "digits, '_' and '-' in a tool name, 64 at most"
    ]
