"""The loopback OpenAI-compatible server, driven by the real ``langchain_openai.ChatOpenAI``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest
from langchain_core.messages import AIMessageChunk
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from ahora.testing.openai_server import (
    OpenAIServer,
    last_message_is_tool_result,
    tool_then_answer,
)


@tool
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


def client(srv: OpenAIServer, **kwargs: Any) -> ChatOpenAI:
    kwargs.setdefault("max_retries", 0)
    return ChatOpenAI(model="test-model", api_key="test", base_url=srv.base_url, **kwargs)  # type: ignore[arg-type]


def streamed(model: Any, prompt: str) -> AIMessageChunk:
    chunks = list(model.stream(prompt))
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    return total  # type: ignore[no-any-return]


def test_invoke_returns_text_usage_and_records_the_request() -> None:
    with OpenAIServer(script=["Hello from the script."]) as srv:
        reply = client(srv).bind_tools([add]).invoke([("system", "be brief"), ("user", "hi")])
    assert reply.content == "Hello from the script."
    assert reply.usage_metadata and reply.usage_metadata["input_tokens"] > 0
    assert reply.usage_metadata["output_tokens"] > 0
    body = srv.requests[0]
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert body["tools"][0]["function"]["name"] == "add"
    assert srv.headers[0]["authorization"] == "Bearer test"


def test_stream_sends_content_deltas_and_usage_when_asked() -> None:
    with OpenAIServer(script=["Streaming works fine."]) as srv:
        model = client(srv, stream_usage=True)
        chunks = list(model.stream("hi"))
    assert len([c for c in chunks if c.content]) > 2
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert total.content == "Streaming works fine."
    assert total.usage_metadata and total.usage_metadata["output_tokens"] > 0
    assert srv.requests[0]["stream"] is True
    assert srv.requests[0]["stream_options"] == {"include_usage": True}


def test_raw_sse_format_has_role_finish_usage_and_done() -> None:
    with OpenAIServer(script=[{"content": "ab", "usage": {"prompt_tokens": 7}}]) as srv:
        req = urllib.request.Request(
            f"{srv.base_url}/chat/completions",
            data=json.dumps(
                {
                    "model": "m",
                    "messages": [],
                    "stream": True,
                    "stream_options": {"include_usage": True},
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.headers["Content-Type"] == "text/event-stream"
            events = [line[6:] for line in resp.read().decode().splitlines() if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 7


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_arrive_parsed(stream: bool) -> None:
    script = [
        {
            "tool_calls": [
                {"name": "add", "arguments": {"a": 1, "b": 2}},
                {"name": "add", "arguments": {"a": 30, "b": 12}, "id": "call_fixed"},
            ]
        }
    ]
    with OpenAIServer(script=script) as srv:
        model = client(srv).bind_tools([add])
        reply = streamed(model, "sum") if stream else model.invoke("sum")
    assert [c["args"] for c in reply.tool_calls] == [{"a": 1, "b": 2}, {"a": 30, "b": 12}]
    assert reply.tool_calls[1]["id"] == "call_fixed"
    assert all(c["name"] == "add" for c in reply.tool_calls)


@pytest.mark.parametrize("stream", [False, True])
def test_malformed_arguments_arrive_in_invalid_tool_calls(stream: bool) -> None:
    with OpenAIServer(script=[{"tool_calls": [{"name": "add", "arguments": "not json {"}]}]) as srv:
        model = client(srv).bind_tools([add])
        reply = streamed(model, "sum") if stream else model.invoke("sum")
    assert reply.tool_calls == []
    assert reply.invalid_tool_calls[0]["name"] == "add"
    assert reply.invalid_tool_calls[0]["args"] == "not json {"


def test_error_statuses_reach_the_client_in_openai_shape() -> None:
    script = [{"status": 500}, {"status": 401}, {"status": 429, "message": "slow down"}]
    with OpenAIServer(script=script) as srv:
        model = client(srv)
        with pytest.raises(openai.InternalServerError):
            model.invoke("hi")
        with pytest.raises(openai.AuthenticationError):
            model.invoke("hi")
        with pytest.raises(openai.RateLimitError, match="slow down"):
            model.invoke("hi")


def test_retry_after_is_sent_and_the_client_retries() -> None:
    with OpenAIServer(script=[{"status": 429, "retry_after": 0.1}, "after the wait"]) as srv:
        try:
            urllib.request.urlopen(
                urllib.request.Request(f"{srv.base_url}/chat/completions", data=b"{}"), timeout=5
            )
        except urllib.error.HTTPError as exc:
            assert exc.code == 429
            assert exc.headers["Retry-After"] == "0.1"
            assert json.loads(exc.read())["error"]["code"] == "rate_limit_exceeded"
        else:
            pytest.fail("expected a 429")
        srv.position = 0
        reply = client(srv, max_retries=1).invoke("hi")
    assert reply.content == "after the wait"
    assert srv.calls == 3


def test_exhausted_script_answers_500_with_a_clear_message() -> None:
    with OpenAIServer(script=["only one"]) as srv:
        model = client(srv)
        model.invoke("a")
        with pytest.raises(openai.InternalServerError, match="script exhausted"):
            model.invoke("b")


def test_fallback_repeats_when_the_script_runs_out() -> None:
    with OpenAIServer(script=["first"], fallback="again") as srv:
        model = client(srv)
        assert [model.invoke("x").content for _ in range(3)] == ["first", "again", "again"]


def test_delay_and_default_delay() -> None:
    with OpenAIServer(
        script=[{"content": "slow", "delay": 0.3}, "default"], default_delay=0.1
    ) as srv:
        model = client(srv)
        began = time.perf_counter()
        model.invoke("a")
        middle = time.perf_counter()
        model.invoke("b")
        end = time.perf_counter()
    assert middle - began >= 0.3
    assert end - middle >= 0.1


def test_rule_mode_serves_many_concurrent_conversations() -> None:
    with OpenAIServer(rule=tool_then_answer("add", {"a": 1, "b": 1}, answer="two")) as srv:
        model = client(srv).bind_tools([add])

        def conversation(i: int) -> str:
            first = model.invoke(f"q{i}")
            call = first.tool_calls[0]
            result = add.invoke(call)
            return str(model.invoke([("user", f"q{i}"), first, result]).content)

        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(conversation, range(48)))
    assert answers == ["two"] * 48
    assert srv.calls == 96
    assert sum(last_message_is_tool_result(b) for b in srv.requests) == 48
    assert srv.requests[-1]["messages"]  # recorded even under concurrency


def test_a_rule_that_raises_answers_500() -> None:
    def rule(body: dict[str, Any]) -> str:
        raise ValueError("no idea")

    with OpenAIServer(rule=rule) as srv, pytest.raises(openai.InternalServerError, match="no idea"):
        client(srv).invoke("x")


def test_models_listing_and_unknown_routes() -> None:
    with OpenAIServer(models=["alpha", "beta"]) as srv:
        with urllib.request.urlopen(f"{srv.base_url}/models", timeout=5) as resp:
            data = json.loads(resp.read())
        assert [m["id"] for m in data["data"]] == ["alpha", "beta"]
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{srv.base_url}/nothing", timeout=5)
        assert info.value.code == 404


@pytest.mark.slow
def test_runs_as_a_subprocess_with_port_file_and_log(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps({"script": ["scripted answer"], "fallback": "fallback answer"}),
        encoding="utf-8",
    )
    port_file, log = tmp_path / "port", tmp_path / "requests.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ahora.testing.openai_server",
            "--script",
            str(script),
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--log",
            str(log),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        printed = int(proc.stdout.readline())
        assert int(port_file.read_text()) == printed
        model = ChatOpenAI(
            model="test-model",
            api_key="test",
            base_url=f"http://127.0.0.1:{printed}/v1",  # type: ignore[arg-type]
        )
        assert model.invoke("one").content == "scripted answer"
        assert model.invoke("two").content == "fallback answer"
        bodies = [json.loads(line) for line in log.read_text().splitlines()]
        assert [b["messages"][0]["content"] for b in bodies] == ["one", "two"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0


@pytest.mark.slow
def test_subprocess_rule_from_json(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            {
                "rule": {
                    "after_tool": "answered",
                    "otherwise": {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]},
                }
            }
        ),
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "ahora.testing.openai_server", "--script", str(script)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        model = ChatOpenAI(
            model="m",
            api_key="test",
            base_url=f"http://127.0.0.1:{port}/v1",  # type: ignore[arg-type]
        ).bind_tools([add])
        first = model.invoke("sum")
        assert first.tool_calls[0]["args"] == {"a": 1, "b": 2}
        second = model.invoke([("user", "sum"), first, add.invoke(first.tool_calls[0])])
        assert second.content == "answered"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_replies_are_prompt_on_a_kept_alive_connection() -> None:
    # Headers and body sent in two writes with Nagle on stall each reply on the
    # client's delayed ACK (~40 ms); 20 replies must stay far below 20 such stalls.
    import http.client

    with OpenAIServer(fallback="hi") as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}]})
        began = time.perf_counter()
        for _ in range(20):
            conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            assert conn.getresponse().read()
        elapsed = time.perf_counter() - began
        conn.close()
    assert elapsed < 20 * 0.040 / 2, f"20 replies took {elapsed * 1000:.0f} ms"


def test_context_window_refuses_long_prompts_in_openais_shape() -> None:
    with OpenAIServer(fallback="fits", context_window=50) as srv:
        assert client(srv).invoke("short").content == "fits"
        req = urllib.request.Request(
            f"{srv.base_url}/chat/completions",
            data=json.dumps(
                {"model": "m", "messages": [{"role": "user", "content": "x" * 400}]}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=5)
        assert info.value.code == 400
        error = json.loads(info.value.read())["error"]
        # The OpenAI client carries the code over, as it does for the real service.
        with pytest.raises(openai.BadRequestError, match="maximum context length is 50") as e:
            client(srv).invoke("y" * 400)
        assert e.value.code == "context_length_exceeded"
    assert error["code"] == "context_length_exceeded"
    assert error["type"] == "invalid_request_error" and error["param"] == "messages"
    assert error["message"].startswith("This model's maximum context length is 50 tokens. ")
    assert "However, your messages resulted in " in error["message"]
    assert srv.calls == 3  # refused requests are recorded too
    assert srv.position == 0  # ...but take no reply from the script
