"""Runs exported as OpenTelemetry spans, over real OTLP/HTTP, to a loopback receiver.

The receiver (``tests/fixtures/otlp_receiver.py``) decodes the protobuf as a collector
does; the assertions are on what arrived: the span tree, names, GenAI attributes and
ahora's decision events. Also: the timing record every run leaves in its messages,
and that tracing off imports no OpenTelemetry at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from ahora import Agent, tracing
from ahora.testing import ScriptedChatModel, tool_call
from ahora.timing import TIMING
from tests.fixtures.otlp_receiver import OTLPGrpcReceiver, OTLPReceiver, ReceivedSpan

ERROR = 2  # OTLP status code


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


def explode(what: str) -> str:
    """Always fails.

    Args:
        what: Anything.
    """
    raise ValueError(f"no {what}")


@pytest.fixture(autouse=True)
def _no_endpoint_from_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process, tracing goes where each test says, whatever the shell exports."""
    monkeypatch.setattr(tracing._state, "env", False)


@pytest.fixture(scope="module")
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as r:
        yield r


@pytest.fixture
def spans(receiver: OTLPReceiver) -> Iterator[OTLPReceiver]:
    """Trace with a real OTLP/HTTP exporter to the receiver; flushed by ``sent``."""
    receiver.clear()
    provider = TracerProvider(resource=Resource.create({"service.name": "ahora-test"}))
    exporter = OTLPSpanExporter(endpoint=receiver.endpoint + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracing.use_provider(provider)
    yield receiver
    tracing.use_provider(None)
    provider.shutdown()


def sent(receiver: OTLPReceiver) -> OTLPReceiver:
    tracing.flush()
    return receiver


def children(receiver: OTLPReceiver, parent: ReceivedSpan) -> list[str]:
    return [
        s.name
        for s in sorted(receiver.spans, key=lambda s: s.start_ns)
        if s.parent_id == parent.span_id
    ]


def failing(message: str) -> Any:
    def reply(messages: list[BaseMessage], tools: Any) -> AIMessage:
        raise RuntimeError(message)

    return reply


# --- the span tree ------------------------------------------------------------------


def test_a_tool_using_run_is_one_tree_of_chat_and_tool_spans(spans: OTLPReceiver) -> None:
    model = ScriptedChatModel(
        replies=[tool_call("add", {"a": 2, "b": 3}), "5"], model_name="gpt-test"
    )
    answer = Agent(model, [add]).ask("2+3?")
    got = sent(spans)
    (run,) = got.named("invoke_agent")
    assert run.name == "invoke_agent ahora" and run.parent_id == ""
    assert run.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert run.attributes["gen_ai.conversation.id"] == answer.thread_id
    assert run.attributes["gen_ai.usage.input_tokens"] == answer.usage["input_tokens"] > 0
    assert children(got, run) == ["chat gpt-test", "execute_tool add", "chat gpt-test"]
    first, second = got.named("chat")
    assert first.attributes["gen_ai.provider.name"] == "ahora.testing"
    assert first.attributes["gen_ai.request.model"] == "gpt-test"
    assert first.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert second.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert first.attributes["gen_ai.usage.output_tokens"] > 0
    assert first.kind == 3  # CLIENT
    assert "ahora.cost_usd" not in first.attributes  # no price known for gpt-test
    (tool,) = got.named("execute_tool")
    call_id = answer.messages[1].tool_calls[0]["id"]
    assert tool.attributes["gen_ai.tool.call.id"] == call_id
    assert tool.attributes["gen_ai.tool.name"] == "add"
    assert tool.attributes["ahora.tool.outcome"] == "ok"
    assert tool.attributes["ahora.tool.bytes"] > 0
    assert first.end_ns <= tool.start_ns <= tool.end_ns <= second.start_ns
    assert len({s.trace_id for s in got.spans}) == 1
    assert run.resource["service.name"] == "ahora-test"
    # No contents without the opt-in.
    assert not any("gen_ai.input.messages" in s.attributes for s in got.spans)
    assert "gen_ai.tool.call.arguments" not in tool.attributes


def test_contents_only_with_the_capture_switch(
    spans: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    model = ScriptedChatModel(replies=[tool_call("add", {"a": 2, "b": 3}), "five"])
    Agent(model, [add]).ask("what is 2+3?")
    got = sent(spans)
    first, second = got.named("chat")
    assert "what is 2+3?" in first.attributes["gen_ai.input.messages"]
    assert "five" in second.attributes["gen_ai.output.messages"]
    (tool,) = got.named("execute_tool")
    assert tool.attributes["gen_ai.tool.call.arguments"] == '{"a": 2, "b": 3}'
    assert "5" in tool.attributes["gen_ai.tool.call.result"]


def test_a_calls_cost_is_on_its_span_when_the_price_is_known(spans: OTLPReceiver) -> None:
    from ahora.pricing import call_cost
    from ahora.settings import Settings

    settings = Settings.load({}, prices={"house-model": (1.0, 2.0)})
    model = ScriptedChatModel(replies=["hi"], model_name="house-model")
    answer = Agent(model, [add], settings=settings).ask("hello")
    (chat,) = sent(spans).named("chat")
    usage = answer.usage
    expected = call_cost(
        "house-model", usage["input_tokens"], usage["output_tokens"], settings.prices
    )
    assert expected and chat.attributes["ahora.cost_usd"] == pytest.approx(expected)
    (run,) = spans.named("invoke_agent")
    assert run.attributes["ahora.cost_usd"] == pytest.approx(expected)


def test_a_failing_tool_is_an_error_span_and_the_run_goes_on(spans: OTLPReceiver) -> None:
    model = ScriptedChatModel(replies=[tool_call("explode", {"what": "luck"}), "sorry"])
    answer = Agent(model, [explode]).ask("go")
    assert answer.text == "sorry"
    got = sent(spans)
    (tool,) = got.named("execute_tool explode")
    assert tool.status_code == ERROR
    assert "ValueError" in tool.status_message
    assert tool.attributes["ahora.tool.outcome"] == "error"
    (run,) = got.named("invoke_agent")
    assert run.status_code != ERROR
    assert all(s.status_code != ERROR for s in got.named("chat"))


def test_a_fallback_shows_the_failed_model_and_the_one_that_answered(
    spans: OTLPReceiver,
) -> None:
    broken = ScriptedChatModel(replies=[failing("overloaded")], model_name="primary")
    backup = ScriptedChatModel(replies=["from the backup"], model_name="backup")
    answer = Agent(broken, [add], fallbacks=[backup]).ask("hi")
    assert answer.text == "from the backup"
    got = sent(spans)
    (run,) = got.named("invoke_agent")
    assert children(got, run) == ["chat primary", "chat backup"]
    failed, answered = got.named("chat")
    assert failed.status_code == ERROR and failed.attributes["error.type"] == "RuntimeError"
    assert answered.status_code != ERROR
    assert answered.attributes["gen_ai.request.model"] == "backup"
    assert run.event("ahora.fallback") == {
        "ahora.failed_models": ["primary"],
        "gen_ai.request.model": "backup",
    }
    timing = answer.messages[-1].response_metadata[TIMING]
    assert timing["model"] == "backup"
    assert [f["model"] for f in timing["failed"]] == ["primary"]
    assert timing["failed"][0]["error"] == "RuntimeError"


def test_a_budget_stop_is_an_event_on_the_run(spans: OTLPReceiver) -> None:
    def again(messages: list[BaseMessage], tools: Any) -> AIMessage | str:
        done = sum(isinstance(m, ToolMessage) for m in messages)
        return tool_call("add", {"a": done, "b": 1}) if tools else "stopped"

    answer = Agent(ScriptedChatModel(replies=[again] * 5), [add], max_steps=2).ask("count")
    assert answer.stopped_early
    got = sent(spans)
    (run,) = got.named("invoke_agent")
    event = run.event("ahora.budget_stop")
    assert "step budget of 2" in event["ahora.stop_reason"]
    assert run.attributes["ahora.stop_reason"] == answer.stop_reason
    last = got.named("chat")[-1]
    assert last.attributes["ahora.request.tools"] == 0  # the last call had no tools
    assert not [n for n, _ in run.events if n in ("ahora.deadline", "ahora.loop_guard")]


def test_a_repeated_call_is_a_loop_guard_event(spans: OTLPReceiver) -> None:
    same = tool_call("add", {"a": 1, "b": 1})
    model = ScriptedChatModel(replies=[same, same, "done"])
    Agent(model, [add]).ask("loop")
    got = sent(spans)
    first, repeat = got.named("execute_tool add")
    assert first.attributes["ahora.tool.outcome"] == "ok" and not first.events
    assert repeat.attributes["ahora.tool.outcome"] == "repeated"
    assert repeat.event("ahora.loop_guard") == {"gen_ai.tool.name": "add"}
    (run,) = got.named("invoke_agent")
    assert "same tool call" in run.event("ahora.loop_guard")["ahora.stop_reason"]


def test_an_approval_is_asked_on_one_run_and_answered_on_the_next(
    spans: OTLPReceiver,
) -> None:
    model = ScriptedChatModel(replies=[tool_call("add", {"a": 1, "b": 2}), "3"])
    agent = Agent(model, [add], approvals=["add"])
    paused = agent.ask("1+2")
    assert paused.pending
    done = agent.resume(paused.thread_id or "", approve=True)
    assert done.text == "3"
    got = sent(spans)
    asked, answered = got.named("invoke_agent")
    assert asked.event("ahora.approval.asked") == {"gen_ai.tool.name": ["add"]}
    assert children(got, asked) == ["chat scripted"]  # paused before the tool ran
    assert answered.event("ahora.approval.answered") == {"ahora.approval.decisions": ["approve"]}
    assert children(got, answered) == ["execute_tool add", "chat scripted"]
    assert (
        asked.attributes["gen_ai.conversation.id"] == answered.attributes["gen_ai.conversation.id"]
    )


class _ProviderError(Exception):
    pass


def _overflow(messages: list[BaseMessage], tools: Any) -> AIMessage:
    raise _ProviderError(
        "Error code: 400 - This model's maximum context length is 100 tokens. However, "
        "your messages resulted in 400 tokens."
    )


def test_a_shortened_context_says_by_how_much(spans: OTLPReceiver) -> None:
    model = ScriptedChatModel(replies=["first", "second", _overflow, "after the retry"])
    agent = Agent(model, [add])
    agent.ask("x " * 300, thread="t")
    agent.ask("y " * 300, thread="t")
    answer = agent.ask("short question", thread="t")
    assert answer.text == "after the retry"
    got = sent(spans)
    run = got.named("invoke_agent")[-1]
    event = run.event("ahora.context_shortened")
    assert event["ahora.context.window"] == 100
    assert event["ahora.context.messages_before"] == 5
    assert event["ahora.context.messages_after"] < event["ahora.context.messages_before"]
    refused, retried = children(got, run), got.named("chat")[-2:]
    assert refused == ["chat scripted", "chat scripted"]
    assert retried[0].status_code == ERROR and retried[1].status_code != ERROR


async def test_async_runs_nest_the_same_way(spans: OTLPReceiver) -> None:
    model = ScriptedChatModel(replies=[tool_call("add", {"a": 2, "b": 3}), "5"])
    agent = Agent(model, [add])
    events = [e async for e in agent.astream("2+3?")]
    assert events
    got = sent(spans)
    (run,) = got.named("invoke_agent")
    assert children(got, run) == ["chat scripted", "execute_tool add", "chat scripted"]


def test_a_graph_driven_directly_nests_under_the_apps_span(spans: OTLPReceiver) -> None:
    from langchain_core.messages import HumanMessage

    import ahora

    model = ScriptedChatModel(replies=[tool_call("add", {"a": 2, "b": 3}), "5"])
    graph = ahora.build_agent(model, [add])
    with tracing.tracer().start_as_current_span("my request"):
        graph.invoke({"messages": [HumanMessage("2+3?")]})
    got = sent(spans)
    (mine,) = got.named("my request")
    assert children(got, mine) == ["chat scripted", "execute_tool add", "chat scripted"]


# --- the record in the messages -----------------------------------------------------


def test_every_run_records_its_timing_without_tracing() -> None:
    assert not tracing.enabled()
    model = ScriptedChatModel(replies=[tool_call("explode", {"what": "x"}), "ok"])
    answer = Agent(model, [explode]).ask("go")
    ai, tool, final = answer.messages[1:]
    a, t, f = (m.response_metadata[TIMING] for m in (ai, tool, final))
    assert a["start"] <= a["end"] <= t["start"] <= t["end"] <= f["start"] <= f["end"]
    assert a["model"] == "scripted" and a["failed"] == []
    assert t["outcome"] == "error"
    assert t["bytes"] == len(str(tool.content).encode())


# --- configured the standard way ----------------------------------------------------

# LangSmith (under LangChain) imports part of OpenTelemetry by itself: what ahora adds
# is measured against a bare LangChain agent's run in the same process.
_SCRIPT = textwrap.dedent(
    """
    import sys
    from langchain.agents import create_agent
    from langchain_core.messages import HumanMessage
    from ahora import Agent
    from ahora.testing import ScriptedChatModel, tool_call

    def add(a: int, b: int) -> int:
        '''Add.'''
        return a + b

    def otel():
        return {m for m in sys.modules if m.startswith("opentelemetry")}

    bare = ScriptedChatModel(replies=[tool_call("add", {"a": 1, "b": 2}), "3"])
    create_agent(bare, [add]).invoke({"messages": [HumanMessage("1+2")]})
    before = otel()
    model = ScriptedChatModel(replies=[tool_call("add", {"a": 1, "b": 2}), "3"])
    print(Agent(model, [add]).ask("1+2").text)
    print(sorted(otel() - before))
    """
)


_APP_PROVIDER = textwrap.dedent(
    """
    import os
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    exporter = OTLPSpanExporter(endpoint=os.environ["RECEIVER"] + "/v1/traces")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    """
)


def _run(env: dict[str, str], before: str = "") -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", before + _SCRIPT],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.slow
def test_the_endpoint_variable_turns_tracing_on_and_exit_flushes(
    receiver: OTLPReceiver,
) -> None:
    receiver.clear()
    out = _run({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "mine"})
    assert out[0] == "3"
    names = sorted(s.name for s in receiver.spans)  # sent at exit: no flush was called
    assert names == ["chat scripted", "chat scripted", "execute_tool add", "invoke_agent ahora"]
    assert receiver.spans[0].resource["service.name"] == "mine"


@pytest.mark.slow
def test_an_apps_own_provider_turns_tracing_on(receiver: OTLPReceiver) -> None:
    receiver.clear()
    assert _run({"RECEIVER": receiver.endpoint}, before=_APP_PROVIDER)[0] == "3"
    names = sorted(s.name for s in receiver.spans)
    assert names == ["chat scripted", "chat scripted", "execute_tool add", "invoke_agent ahora"]


@pytest.mark.slow
def test_an_endpoint_without_the_exporter_warns_and_the_run_goes_on(
    receiver: OTLPReceiver,
) -> None:
    receiver.clear()
    missing = "import sys\nsys.modules['opentelemetry.exporter.otlp.proto.grpc'] = None\n"
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", missing + _SCRIPT],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "3"
    assert "pip install 'ahora[otel]'" in done.stderr
    assert receiver.spans == []


@pytest.mark.slow
def test_tracing_off_imports_no_opentelemetry(receiver: OTLPReceiver) -> None:
    receiver.clear()
    assert _run({}) == ["3", "[]"]
    assert (
        _run({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SDK_DISABLED": "true"})[1]
        == "[]"
    )
    assert receiver.spans == []


@pytest.mark.slow
def test_the_grpc_protocol_is_chosen_by_its_variable() -> None:
    with OTLPGrpcReceiver() as grpc_receiver:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": grpc_receiver.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        }
        out = _run(env)
        assert out[0] == "3"
        assert "opentelemetry.exporter.otlp.proto.grpc" in out[1]
        assert "opentelemetry.exporter.otlp.proto.http" not in out[1]
        names = sorted(s.name for s in grpc_receiver.spans)
        assert names == ["chat scripted", "chat scripted", "execute_tool add", "invoke_agent ahora"]


@pytest.mark.slow
def test_the_cli_sends_its_run_through_the_openai_client(receiver: OTLPReceiver) -> None:
    from ahora.testing.openai_server import OpenAIServer

    receiver.clear()
    with OpenAIServer(["Four."]) as model:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | {
            "AHORA_MODEL": "openai:test-model",
            "OPENAI_API_KEY": "test-key",
            "OPENAI_BASE_URL": model.base_url,
            "AHORA_MODEL_MAX_RETRIES": "0",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        }
        done = subprocess.run(
            [sys.executable, "-m", "ahora", "ask", "--tools", "calculator", "2+2?"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert "Four." in done.stdout
    (run,) = receiver.named("invoke_agent")  # sent at the CLI's exit
    (chat,) = receiver.named("chat")
    assert chat.parent_id == run.span_id
    assert chat.name == "chat test-model"
    assert chat.attributes["gen_ai.provider.name"] == "openai"
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert chat.attributes["gen_ai.usage.input_tokens"] > 0
    assert run.attributes["gen_ai.conversation.id"]


def test_a_deadline_is_an_event_and_the_cut_tool_an_error(spans: OTLPReceiver) -> None:
    def slow(what: str) -> str:
        """Take a long time.

        Args:
            what: Anything.
        """
        time.sleep(3)
        return "late"

    model = ScriptedChatModel(replies=[tool_call("slow", {"what": "x"}), "ran out of time"])
    answer = Agent(model, [slow], timeout=0.5).ask("go")
    assert answer.stopped_early
    got = sent(spans)
    (run,) = got.named("invoke_agent")
    assert "time limit" in run.event("ahora.deadline")["ahora.stop_reason"]
    (tool,) = got.named("execute_tool slow")
    assert tool.status_code == ERROR and "stopped" in tool.status_message
    assert (tool.end_ns - tool.start_ns) / 1e9 < 1.5  # cut at the deadline, not after 3 s


def test_a_tools_sources_are_on_its_span(spans: OTLPReceiver) -> None:
    from langchain_core.tools import tool

    @tool(response_format="content_and_artifact")
    def fetch(url: str) -> tuple[str, dict[str, Any]]:
        """Fetch a page.

        Args:
            url: The page's address.
        """
        return "page text", {"sources": [{"url": url, "title": "A page"}]}

    model = ScriptedChatModel(replies=[tool_call("fetch", {"url": "https://example.org/a"}), "ok"])
    Agent(model, [fetch]).ask("read it")
    (span,) = sent(spans).named("execute_tool fetch")
    assert span.attributes["ahora.tool.source_urls"] == ["https://example.org/a"]


def test_an_agent_called_from_a_tool_nests_under_that_tool(spans: OTLPReceiver) -> None:
    inner = Agent(ScriptedChatModel(replies=["inner answer"], model_name="inner-model"), [add])

    def ask_expert(question: str) -> str:
        """Ask another agent.

        Args:
            question: What to ask.
        """
        return inner.ask(question).text

    outer = ScriptedChatModel(replies=[tool_call("ask_expert", {"question": "q"}), "done"])
    Agent(outer, [ask_expert]).ask("delegate")
    got = sent(spans)
    first, second = got.named("invoke_agent")
    (tool,) = got.named("execute_tool ask_expert")
    assert tool.parent_id == first.span_id
    assert second.parent_id == tool.span_id  # the inner run, inside the tool call
    assert children(got, second) == ["chat inner-model"]
    assert len({s.trace_id for s in got.spans}) == 1


def test_a_profile_called_as_a_tool_is_its_own_named_run_under_the_call(
    spans: OTLPReceiver, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``agent:NAME``: the sub-agent's run span names it and nests under the tool call."""
    monkeypatch.setenv("AHORA_HOME", str(tmp_path))
    folder = tmp_path / "agents"
    folder.mkdir()
    for name, tools in (("boss", '["agent:helper"]'), ("helper", '["calculator"]')):
        (folder / f"{name}.toml").write_text(
            f'name = "{name}"\ndescription = "{name} works."\ninstructions = "Work."\n'
            f"tools = {tools}\n"
        )

    def rule(messages: list[BaseMessage], tools: Any) -> Any:
        names = {t["function"]["name"] if "function" in t else t.get("name") for t in tools}
        if isinstance(messages[-1], ToolMessage):
            return "done"
        if "helper" in names:
            return tool_call("helper", {"task": "6*7?"})
        return tool_call("calculator", {"expression": "6*7"})

    Agent(ScriptedChatModel(replies=[rule] * 6), profile="boss").ask("6*7?")
    got = sent(spans)
    runs = got.named("invoke_agent")
    assert sorted(r.name for r in runs) == ["invoke_agent boss", "invoke_agent helper"]
    boss = next(r for r in runs if r.name == "invoke_agent boss")
    helper = next(r for r in runs if r.name == "invoke_agent helper")
    (call,) = got.named("execute_tool helper")
    assert call.parent_id == boss.span_id and helper.parent_id == call.span_id
    assert children(got, helper) == ["chat scripted", "execute_tool calculator", "chat scripted"]
