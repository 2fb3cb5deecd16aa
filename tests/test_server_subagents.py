"""A sub-agent on LangGraph's server (``langgraph dev`` through ``langgraph_sdk``): its
steps stream to the client in the ``custom`` mode as ahora's event data, and its work
counts and shows in the caller's run as on every other path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ahora.events import SUBAGENT_CHUNK, SubagentEvent, ToolCalled, ToolFinished, event_from_data
from ahora.testing.openai_server import OpenAIServer, Reply
from tests.cli.test_subagents_cli import chain, write_profiles
from tests.fixtures.langgraph_dev import langgraph_dev as serve


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, OpenAIServer]]:
    home = tmp_path / "home"
    write_profiles(home, lead=["agent:scout"], scout=["agent:leaf"], leaf=["calculator"])

    def rule(body: dict[str, Any]) -> Reply:
        return chain(body)

    with OpenAIServer(rule=rule) as model:
        env = {
            "AHORA_HOME": str(home),
            "AHORA_MODEL": "openai:test-model",
            "OPENAI_API_KEY": "test",
            "OPENAI_BASE_URL": model.base_url,
        }
        with serve(tmp_path, env) as url:
            yield url, model


@pytest.mark.slow
async def test_a_sub_agents_steps_stream_to_a_server_client(
    server: tuple[str, OpenAIServer],
) -> None:
    from langgraph_sdk import get_client

    url, model = server
    client = get_client(url=url)
    thread = await client.threads.create()
    nested: list[Any] = []
    final: dict[str, Any] = {}
    async for part in client.runs.stream(
        thread["thread_id"],
        "ahora",
        input={"messages": [{"role": "user", "content": "What is 6 times 7?"}]},
        config={"configurable": {"profile": "lead"}},
        stream_mode=["custom", "values"],
    ):
        if part.event == "custom" and isinstance(part.data, dict) and SUBAGENT_CHUNK in part.data:
            nested.append(event_from_data(part.data[SUBAGENT_CHUNK]))
        elif part.event == "values":
            final = part.data
    assert final["messages"][-1]["content"] == "Lead says: 42."
    assert all(isinstance(e, SubagentEvent) for e in nested)
    calls = [(e.path, e.innermost.name) for e in nested if isinstance(e.innermost, ToolCalled)]
    assert calls == [(("scout",), "leaf"), (("scout", "leaf"), "calculator")]
    done = [e.innermost for e in nested if isinstance(e.innermost, ToolFinished)]
    assert [d.name for d in done] == ["calculator", "leaf"]
    # What each agent did rides with the call's result, as on the other paths.
    result = next(m for m in final["messages"] if m["type"] == "tool")
    scout = result["artifact"]["ahora_subrun"]
    assert (scout["agent"], scout["steps"]) == ("scout", 4)
    assert len(model.requests) == 6
