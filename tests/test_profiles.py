"""Agent profiles: the shipped ones, where they are looked up, what the model receives,
and one clear message (file and field) for every kind of broken profile."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from typer.testing import CliRunner

from ahora import Agent, create_agent
from ahora.cli.agents_cmd import app
from ahora.errors import InvalidProfile
from ahora.profiles import builtin_dir, list_profiles, load_profile
from ahora.settings import config_path, data_dir, get_settings
from ahora.testing import ScriptedChatModel
from ahora.tools import BUILTIN_TOOL_NAMES
from ahora.tools.registry import available_tools
from ahora.trust import trust

REPO = Path(__file__).resolve().parents[1]
RESTRICTION = "You help ONLY with these topics"

CHEF = """\
name = "chef"
description = "{description}"
instructions = "You cook."
tools = []
"""


def _recording_model(reply: str = "Done.") -> tuple[ScriptedChatModel, list[list[str]]]:
    """A model that answers ``reply`` and records the tool names bound to each call."""
    bound: list[list[str]] = []

    def answer(messages: list[BaseMessage], tools: list[dict[str, Any]]) -> str:
        bound.append([t["function"]["name"] for t in tools])
        return reply

    return ScriptedChatModel(replies=[answer]), bound


def _run(graph: Any, question: str) -> list[BaseMessage]:
    state = graph.invoke(
        {"messages": [HumanMessage(question)]}, {"configurable": {"thread_id": "t"}}
    )
    return list(state["messages"])


# --- the shipped profiles -------------------------------------------------------------


def test_builtin_profiles_load_and_use_only_known_tools() -> None:
    names = {p.name for p in list_profiles(get_settings())}
    assert {"assistant", "researcher", "weather", "chef"} <= names
    assistant = load_profile("assistant", settings=get_settings())
    # Every available tool (built-ins, plugins, local, MCP), and research handed off.
    assert assistant.tools == ["*", "agent:researcher"]
    assert assistant.topics == []
    researcher = load_profile("researcher", settings=get_settings())
    assert researcher.tools == ["web_search", "read_page"]
    assert researcher.max_steps and researcher.max_steps > 12
    assert "cit" in researcher.instructions.lower()
    assert load_profile("weather", settings=get_settings()).tools == ["weather", "clock"]
    chef = load_profile("chef", settings=get_settings())
    assert chef.topics and any("cook" in t for t in chef.topics)
    for info in list_profiles(get_settings()):
        assert info.error is None, info.error
        assert info.origin == "built-in"


def test_builtin_folder_matches_the_wheel_mapping() -> None:
    """pyproject ships the repo's agents/ as ahora/profiles_builtin; the loader agrees."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    mapping = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert mapping["agents"] == "ahora/profiles_builtin"
    folder = builtin_dir()
    assert folder.name in ("agents", "profiles_builtin")
    assert {p.stem for p in folder.glob("*.toml")} >= {"assistant", "researcher", "weather"}


def test_listing_profiles_does_not_import_langchain() -> None:
    code = (
        "import sys; from ahora.profiles import list_profiles; "
        "from ahora.settings import Settings; "
        "assert len(list_profiles(Settings.load())) >= 4; "
        "assert not [m for m in sys.modules if m.startswith(('langchain', 'langgraph'))]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# --- what the model receives -----------------------------------------------------------


def test_chef_prompt_carries_the_restriction_and_only_chef_tools() -> None:
    model, bound = _recording_model("Solo puedo ayudarte con cocina y recetas.")
    graph = create_agent(model, profile="chef")
    messages = _run(graph, "¿Quién ganó el partido de ayer?")
    system = model.requests[0][0]
    assert isinstance(system, SystemMessage)
    assert RESTRICTION in system.text
    for topic in load_profile("chef", settings=get_settings()).topics:
        assert topic in system.text
    assert "do NOT call any tool" in system.text
    assert "language the user wrote in" in system.text
    assert sorted(bound[0]) == ["calculator", "read_page", "web_search"]
    assert isinstance(messages[-1], AIMessage)


def test_assistant_prompt_has_no_restriction_and_every_builtin_tool() -> None:
    model, bound = _recording_model()
    _run(create_agent(model, profile="assistant"), "hi")
    system = model.requests[0][0]
    assert isinstance(system, SystemMessage)
    assert RESTRICTION not in system.text
    assert "helpful general assistant" in system.text
    # every available tool: the built-ins, plus local tools (./tools) and plugins; and
    # the researcher for questions that need several pages read ("*", "agent:researcher")
    assert set(BUILTIN_TOOL_NAMES) <= set(bound[0])
    assert bound[0] == [*available_tools(settings=get_settings()), "researcher"]
    assert "several pages" in system.text and "researcher" in system.text


def test_a_star_is_every_available_tool_less_those_named_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "helper.toml"
    path.write_text(
        'name = "helper"\ndescription = "d"\ninstructions = "Help."\n'
        'tools = ["clock", "*", "agent:chef"]\napproval = ["calculator"]\n',
        encoding="utf-8",
    )
    # approval may name any tool "*" brings
    profile = load_profile(str(path), settings=get_settings())
    assert profile.tools == ["clock", "*", "agent:chef"]
    model, bound = _recording_model()
    agent = Agent(model, profile=str(path))
    every = [n for n in available_tools(settings=get_settings()) if n != "clock"]
    assert [t.name for t in agent.tools] == ["clock", *every, "chef"]  # clock once
    assert agent.context.approvals == {"calculator"}
    agent.ask("hi")
    assert bound[0] == ["clock", *every, "chef"]
    # "*" alone is the default tools, as no list is.
    assert [t.name for t in Agent(model, ["*"]).tools] == [t.name for t in Agent(model).tools]


def test_arguments_override_the_profile() -> None:
    model, bound = _recording_model()
    _run(create_agent(model, profile="chef", tools=["clock"], instructions="Be brief."), "hi")
    assert bound[0] == ["clock"]
    system = model.requests[0][0].text
    assert RESTRICTION in system and system.index(RESTRICTION) < system.index("Be brief.")


def test_agent_with_weather_profile() -> None:
    model, bound = _recording_model("Mañana en Lisboa: 19 °C.")
    agent = Agent(model, profile="weather")
    assert sorted(t.name for t in agent.tools) == ["clock", "weather"]
    answer = agent.ask("¿Qué tiempo hará mañana en Lisboa?")
    assert answer.text == "Mañana en Lisboa: 19 °C."
    assert sorted(bound[0]) == ["clock", "weather"]
    assert RESTRICTION in model.requests[0][0].text


def test_profile_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "anything.toml"
    path.write_text(
        'name = "tutor"\ndescription = "d"\ninstructions = "Teach."\n'
        'tools = ["calculator"]\nmodel = "openai:gpt-4o-mini"\nmax_steps = 3\n'
        'approval = ["calculator"]\n',
        encoding="utf-8",
    )
    p = load_profile(str(path), settings=get_settings())
    assert (p.name, p.tools, p.model, p.max_steps, p.approval) == (
        "tutor",
        ["calculator"],
        "openai:gpt-4o-mini",
        3,
        ["calculator"],
    )
    assert p.origin == "file" and p.system_instructions() == "Teach."
    model, bound = _recording_model()
    _run(create_agent(model, profile=str(path)), "2+2?")
    assert bound[0] == ["calculator"]


# --- where profiles come from ----------------------------------------------------------


def test_user_dir_then_working_dir_override_builtins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    (work / "agents").mkdir(parents=True)
    monkeypatch.chdir(work)
    user = config_path().parent / "agents"
    user.mkdir(parents=True)

    assert load_profile("chef", settings=get_settings()).origin == "built-in"
    (user / "chef.toml").write_text(CHEF.format(description="user chef"), encoding="utf-8")
    (user / "poet.toml").write_text(
        'name = "poet"\ndescription = "Writes verse."\ninstructions = "Rhyme."\n',
        encoding="utf-8",
    )
    assert load_profile("chef", settings=get_settings()).description == "user chef"
    assert load_profile("chef", settings=get_settings()).origin == "user"

    (work / "agents" / "chef.toml").write_text(
        CHEF.format(description="project chef"), encoding="utf-8"
    )
    assert (
        load_profile("chef", settings=get_settings()).origin == "user"
    )  # ./agents waits for `ahora trust`
    trust(work, data_dir())
    chef = load_profile("chef", settings=get_settings())
    assert (chef.description, chef.origin, chef.tools) == ("project chef", "project", [])

    infos = {i.name: i for i in list_profiles(get_settings())}
    assert infos["chef"].origin == "project"
    assert infos["poet"].origin == "user"
    assert infos["poet"].description == "Writes verse."
    assert infos["assistant"].origin == "built-in"
    assert (
        load_profile("poet", settings=get_settings()).tools is None
    )  # no tools key: the default tools


def test_unknown_profile_names_the_available_ones() -> None:
    with pytest.raises(InvalidProfile, match=r"no profile named 'sommelier'.*chef"):
        load_profile("sommelier", settings=get_settings())
    with pytest.raises(InvalidProfile, match="no profile file at"):
        load_profile("missing/file.toml", settings=get_settings())


# --- broken profiles --------------------------------------------------------------------

GOOD = {
    "name": '"broken"',
    "description": '"d"',
    "instructions": '"i"',
}

BROKEN = [
    ("bad-toml", 'name = "broken"\ninstructions = """never closed\n', None, "not valid TOML"),
    ("missing", {k: v for k, v in GOOD.items() if k != "instructions"}, "instructions", "missing"),
    ("unknown-key", {**GOOD, "temperature": "0.2"}, "temperature", "unknown key"),
    ("unknown-tool", {**GOOD, "tools": '["weather", "stove"]'}, "tools", "unknown tool 'stove'"),
    ("tools-type", {**GOOD, "tools": '"weather"'}, "tools", "list of non-empty strings"),
    ("steps-type", {**GOOD, "max_steps": '"ten"'}, "max_steps", "whole number"),
    ("steps-zero", {**GOOD, "max_steps": "0"}, "max_steps", "at least 1"),
    ("name-type", {**GOOD, "name": "3"}, "name", "must be a string"),
    ("name-mismatch", {**GOOD, "name": '"other"'}, "name", "does not match the file name"),
    ("empty-instr", {**GOOD, "instructions": '"  "'}, "instructions", "must not be empty"),
    ("topics-type", {**GOOD, "topics": '"cooking"'}, "topics", "list of non-empty strings"),
    ("model", {**GOOD, "model": '"gpt-4o"'}, "model", "provider:name"),
    (
        "approval",
        {**GOOD, "tools": '["clock"]', "approval": '["weather"]'},
        "approval",
        "not one of the profile's tools",
    ),
    ("dup-tools", {**GOOD, "tools": '["clock", "clock"]'}, "tools", "twice"),
    (
        "approval-star",
        {**GOOD, "tools": '["*"]', "approval": '["*"]'},
        "approval",
        "'*' is not a tool",
    ),
]


@pytest.mark.parametrize(("case", "body", "field", "problem"), BROKEN, ids=[b[0] for b in BROKEN])
def test_invalid_profiles_name_file_and_field(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    body: str | dict[str, str],
    field: str | None,
    problem: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "agents").mkdir()
    path = tmp_path / "agents" / "broken.toml"
    text = body if isinstance(body, str) else "".join(f"{k} = {v}\n" for k, v in body.items())
    path.write_text(text, encoding="utf-8")
    trust(tmp_path, data_dir())
    with pytest.raises(InvalidProfile) as caught:
        load_profile("broken", settings=get_settings())
    message = str(caught.value)
    assert str(path) in message
    assert problem in message
    if field is not None:
        assert f"field {field!r}" in message
    # Listing never raises; the broken file shows up with its error (tool names excepted:
    # those are checked when the profile is loaded to run).
    info = {i.name: i for i in list_profiles(get_settings())}["broken"]
    assert (info.error is None) == (case == "unknown-tool")


# --- the CLI -----------------------------------------------------------------------------


def test_cli_lists_profiles_and_flags_broken_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "oops.toml").write_text('name = "oops"\n', encoding="utf-8")
    trust(tmp_path, data_dir())
    result = CliRunner().invoke(app, [])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name in ("assistant", "researcher", "weather", "chef"):
        assert any(line.startswith(name) for line in lines), result.output
    assert any(line.startswith("oops") and "INVALID" in line and "field" in line for line in lines)
    assert "later overrides earlier" in result.output
    assert CliRunner().invoke(app, ["list"]).output == result.output


def test_cli_show() -> None:
    result = CliRunner().invoke(app, ["show", "chef"])
    assert result.exit_code == 0, result.output
    assert "web_search, read_page, calculator" in result.output
    assert RESTRICTION in result.output
    missing = CliRunner().invoke(app, ["show", "sommelier"])
    assert missing.exit_code == 2
    assert "no profile named 'sommelier'" in missing.output


def test_profiles_are_found_where_the_settings_say_not_where_the_environment_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An app that builds its own ``Settings`` (another config file, another home) gets
    the profiles beside that file and the project folders trusted in that home, whatever
    ``AHORA_CONFIG`` and ``AHORA_HOME`` say, and the environment's are not mixed in."""
    from ahora.settings import Settings

    def folder(name: str, profile: str) -> Settings:
        (tmp_path / name / "agents").mkdir(parents=True)
        (tmp_path / name / "agents" / f"{profile}.toml").write_text(
            f'name = "{profile}"\ndescription = "From {name}."\ninstructions = "Hi."\n',
            encoding="utf-8",
        )
        return Settings(config_file=tmp_path / name / "config.toml", home=tmp_path / name)

    mine = folder("mine", "poet")
    theirs = folder("theirs", "critic")
    monkeypatch.setenv("AHORA_CONFIG", str(theirs.config_file))
    monkeypatch.setenv("AHORA_HOME", str(theirs.home))
    project = tmp_path / "project"
    (project / "agents").mkdir(parents=True)
    monkeypatch.chdir(project)  # ./agents: trusted in one home only

    listed = {i.name: i for i in list_profiles(mine)}
    assert listed["poet"].origin == "user" and "critic" not in listed
    assert load_profile("poet", settings=mine).description == "From mine."
    with pytest.raises(InvalidProfile, match="no profile named 'critic'"):
        load_profile("critic", settings=mine)
    assert "critic" in {i.name for i in list_profiles(theirs)}  # and the other way round

    (project / "agents" / "local.toml").write_text(
        'name = "local"\ndescription = "Project."\ninstructions = "Hi."\n', encoding="utf-8"
    )
    trust(project, theirs.home)  # trusted in the environment's home, not mine
    assert "local" not in {i.name for i in list_profiles(mine)}
    assert "local" in {i.name for i in list_profiles(theirs)}


def test_loaded_settings_record_their_config_file(tmp_path: Path) -> None:
    from ahora.errors import InvalidSettings
    from ahora.settings import Settings

    named = tmp_path / "elsewhere.toml"
    assert Settings.load({}, config_file=named).config_file == named
    assert Settings.load({"AHORA_CONFIG": str(named)}).config_file == named
    # Where settings came from is not a setting: no file or variable sets it.
    assert Settings.load({"AHORA_CONFIG_FILE": "/x.toml"}, config_file=named).config_file == named
    named.write_text('config_file = "/x.toml"\n', encoding="utf-8")
    with pytest.raises(InvalidSettings, match="unknown setting 'config_file'"):
        Settings.load({}, config_file=named)
