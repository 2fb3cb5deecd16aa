"""A loopback server shaped like the OpenAI Chat Completions API, for tests and benchmarks.

It plays a script of replies to ``POST /v1/chat/completions`` (streaming as SSE or
not, with tool calls and ``usage``), answers ``GET /v1/models``, and records every
request body, so a test can drive the real ``langchain_openai.ChatOpenAI`` (or the
``ahora`` CLI in a subprocess) end to end without the internet::

    with OpenAIServer(script=[
        {"tool_calls": [{"name": "clock", "arguments": {"timezone": "UTC"}}]},
        "It is 10:00 UTC.",
    ]) as srv:
        model = ChatOpenAI(model="test-model", api_key="test", base_url=srv.base_url)
        ...
        srv.requests[0]["messages"][0]["content"]   # the system prompt that was sent

A reply is one of:

* a string: the assistant's text;
* ``{"content": "...", "tool_calls": [{"name": ..., "arguments": {...}}]}``; a string
  ``arguments`` is sent as is (so malformed JSON reaches the client); ``id`` optional;
* ``{"json": value}``: the value as the reply's JSON text, the way a model answers a
  request for native structured output (``response_format: {"type": "json_schema",
  ...}``); when the request asks for a schema, the value is checked against it first
  (a script that breaks the schema is a test's mistake: HTTP 500 says so), since a
  provider that honours ``json_schema`` never returns data outside it. To test a
  model that does (invalid JSON, a missing field), script the text as a string;
* ``{"status": 500}``, ``{"status": 429, "retry_after": 1}``, ``{"status": 401}``:
  an error in OpenAI's shape (``message`` optional);
* any of these may carry ``"delay": seconds`` (waited before answering) and
  ``"usage": {"prompt_tokens": .., "completion_tokens": ..}`` (else estimated).

With ``context_window=N`` the server refuses any request whose prompt is estimated
(its messages and tools as JSON, four characters a token, as ``usage`` reports it)
at more than N tokens, the way OpenAI does: HTTP 400 with code
``context_length_exceeded``. The refused request is recorded but takes no reply from
the script.

When the script runs out the server repeats ``fallback`` if one is given, else answers
500 with a message saying the script is exhausted. In rule mode (``rule=``) every
reply is ``rule(request_body)`` instead, which suits many concurrent conversations;
``tool_then_answer`` builds the common one. As a subprocess::

    python -m ahora.testing.openai_server --script script.json --port 0 --port-file PATH

where ``script.json`` is a list of replies or ``{"script": [...], "fallback": ...,
"default_delay": .., "context_window": N, "rule": {"after_tool": reply, "otherwise":
reply}}``; the port is
printed on stdout and written to ``--port-file``; ``--log PATH`` appends every request
body as a JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "OpenAIServer",
    "Reply",
    "Rule",
    "context_length_error",
    "last_message_is_tool_result",
    "load_script_file",
    "prompt_tokens",
    "tool_then_answer",
]

Reply = str | dict[str, Any]
Rule = Callable[[dict[str, Any]], Reply]

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_denied", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_exceeded", "rate_limit_exceeded"),
}


def last_message_is_tool_result(body: dict[str, Any]) -> bool:
    """True when the request's last message is a tool result (role ``tool``)."""
    messages = body.get("messages") or []
    return bool(messages) and messages[-1].get("role") == "tool"


def tool_then_answer(
    name: str, arguments: dict[str, Any] | str | None = None, *, answer: str = "Done."
) -> Rule:
    """A rule: call tool ``name`` unless the last message is a tool result, then answer."""
    call = {"tool_calls": [{"name": name, "arguments": arguments or {}}]}

    def rule(body: dict[str, Any]) -> Reply:
        return answer if last_message_is_tool_result(body) else call

    return rule


def _declarative_rule(spec: dict[str, Any]) -> Rule:
    after: Reply = spec["after_tool"]
    otherwise: Reply = spec["otherwise"]

    def rule(body: dict[str, Any]) -> Reply:
        return after if last_message_is_tool_result(body) else otherwise

    return rule


def _estimate_tokens(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str)) // 4 + 1


def prompt_tokens(body: dict[str, Any]) -> int:
    """The server's estimate of a request's prompt tokens (what ``usage`` reports): its
    messages and tool schemas as JSON, four characters a token."""
    tools = body.get("tools")
    return _estimate_tokens(body.get("messages", [])) + (_estimate_tokens(tools) if tools else 0)


def context_length_error(window: int, tokens: int) -> dict[str, Any]:
    """OpenAI's body for a prompt longer than the model's context window."""
    return {
        "error": {
            "message": (
                f"This model's maximum context length is {window} tokens. However, your "
                f"messages resulted in {tokens} tokens. Please reduce the length of the "
                "messages."
            ),
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }


def _normalize(reply: Reply) -> dict[str, Any]:
    if isinstance(reply, str):
        return {"content": reply}
    if not isinstance(reply, dict):
        raise TypeError(f"a reply must be a string or a dict, not {type(reply).__name__}")
    return reply


def _schema_problem(body: dict[str, Any], value: Any) -> str | None:
    """Why ``value`` breaks the JSON schema the request asked for (None: it fits)."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") != "json_schema":
        return None
    schema = (fmt.get("json_schema") or {}).get("schema")
    if not isinstance(schema, dict):
        return None
    from jsonschema import Draft202012Validator

    errors = list(Draft202012Validator(schema).iter_errors(value))
    return errors[0].message if errors else None


def _tool_calls(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """The reply's tool calls in OpenAI's wire shape (arguments as a JSON string)."""
    out = []
    for call in reply.get("tool_calls") or []:
        args = call.get("arguments", {})
        out.append(
            {
                "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {
                    "name": call["name"],
                    "arguments": args if isinstance(args, str) else json.dumps(args),
                },
            }
        )
    return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 makes concurrent benchmarks retry connections.
    request_queue_size = 1024
    owner: OpenAIServer


class OpenAIServer:
    """The loopback OpenAI-compatible server; see the module docstring."""

    def __init__(
        self,
        script: Sequence[Reply] = (),
        *,
        rule: Rule | None = None,
        fallback: Reply | None = None,
        default_delay: float = 0.0,
        context_window: int | None = None,
        models: Sequence[str] = ("test-model",),
        host: str = "127.0.0.1",
        port: int = 0,
        log_path: Path | None = None,
    ) -> None:
        self.script: list[Reply] = list(script)
        self.rule = rule
        self.fallback = fallback
        self.default_delay = default_delay
        self.context_window = context_window
        """Refuse prompts estimated above this many tokens (None: no limit)."""
        self.models = list(models)
        self.host = host
        self.port = port
        self.log_path = log_path
        self.position = 0
        self.requests: list[dict[str, Any]] = []
        """Every chat-completions request body, in arrival order."""
        self.headers: list[dict[str, str]] = []
        """The headers (names lower-cased) of each request in ``requests``."""
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> OpenAIServer:
        httpd = _Server((self.host, self.port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self.port = int(httpd.server_address[1])
        # A short poll interval keeps ``stop()`` (and so each test) fast.
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="openai-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What OpenAI clients take as ``base_url``: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    @property
    def calls(self) -> int:
        return len(self.requests)

    @property
    def last_request(self) -> dict[str, Any]:
        return self.requests[-1]

    # --- the script ---------------------------------------------------------------

    def next_reply(self, body: dict[str, Any]) -> dict[str, Any]:
        """Record ``body`` and pick the reply to it."""
        with self._lock:
            self.requests.append(body)
            if self.rule is None:
                if self.position < len(self.script):
                    reply: Reply | None = self.script[self.position]
                    self.position += 1
                else:
                    reply = self.fallback
                    if reply is None:
                        self.position += 1
                        return {
                            "status": 500,
                            "message": (
                                f"OpenAIServer script exhausted: request {self.position} "
                                f"but the script has {len(self.script)} replies"
                            ),
                        }
        if self.rule is not None:
            reply = self.rule(body)
        assert reply is not None
        return _normalize(reply)

    def _log(self, body: dict[str, Any]) -> None:
        if self.log_path is not None:
            with self._lock, self.log_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(body) + "\n")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    # The status line and headers would otherwise go out in one write and the body in
    # a second; with Nagle's algorithm on, the body then waits for the client's delayed
    # ACK of the headers (~40 ms on Linux) on every reply. So: no Nagle, and a buffered
    # writer that ``handle_one_request`` flushes once, sending the reply in one piece.
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024

    def log_message(self, format: str, *args: Any) -> None:
        return None

    # --- plumbing -----------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers=headers)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        kind, code = _ERROR_TYPES.get(status, ("server_error", None))
        self._json(
            status,
            {"error": {"message": message, "type": kind, "param": None, "code": code}},
            headers,
        )

    # --- routes -------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            owner = self.server.owner
            self._json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": m, "object": "model", "created": 0, "owned_by": "ahora-test"}
                        for m in owner.models
                    ],
                },
            )
        else:
            self._error(404, f"no route GET {path}")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        path = self.path.split("?", 1)[0].rstrip("/")
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._error(404, f"no route POST {path}")
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._error(400, "request body is not JSON")
            return
        owner = self.server.owner
        with owner._lock:
            owner.headers.append({k.lower(): v for k, v in self.headers.items()})
        owner._log(body)
        window = owner.context_window
        if window is not None and (tokens := prompt_tokens(body)) > window:
            with owner._lock:
                owner.requests.append(body)
            self._json(400, context_length_error(window, tokens))
            return
        try:
            reply = owner.next_reply(body)
        except Exception as exc:  # a rule that raised: say so to the client
            self._error(500, f"OpenAIServer rule failed: {type(exc).__name__}: {exc}")
            return
        if "json" in reply:
            problem = _schema_problem(body, reply["json"])
            if problem is not None:
                self._error(500, f"OpenAIServer: the scripted json breaks the schema: {problem}")
                return
            reply = {**reply, "content": json.dumps(reply["json"])}
        delay = float(reply.get("delay", owner.default_delay) or 0)
        if delay > 0:
            time.sleep(delay)
        status = int(reply.get("status", 200))
        if status != 200:
            headers = {}
            if "retry_after" in reply:
                headers["Retry-After"] = str(reply["retry_after"])
            self._error(status, str(reply.get("message") or f"scripted error {status}"), headers)
            return
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            payload = b"".join(
                b"data: " + json.dumps(chunk).encode() + b"\n\n"
                for chunk in _stream_chunks(body, reply, include_usage)
            )
            self._send(200, payload + b"data: [DONE]\n\n", "text/event-stream")
        else:
            self._json(200, _completion(body, reply))


# --- response bodies ------------------------------------------------------------------


def _usage(body: dict[str, Any], reply: dict[str, Any], calls: list[dict[str, Any]]) -> Any:
    given = reply.get("usage") or {}
    prompt = int(given.get("prompt_tokens", prompt_tokens(body)))
    completion = int(
        given.get("completion_tokens", _estimate_tokens([reply.get("content") or "", calls]))
    )
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(body: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    calls = _tool_calls(reply)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.get("content") if reply.get("content") or not calls else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "test-model"),
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if calls else "stop",
            }
        ],
        "usage": _usage(body, reply, calls),
    }


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _stream_chunks(
    body: dict[str, Any], reply: dict[str, Any], include_usage: bool
) -> Iterator[dict[str, Any]]:
    """The SSE chunks of one reply, in the order and shape the real API sends them."""
    ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    model = body.get("model", "test-model")
    calls = _tool_calls(reply)

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            out["usage"] = None
        return out

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    for piece in _pieces(str(reply.get("content") or ""), 4):
        yield chunk({"content": piece})
    for index, call in enumerate(calls):
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": ""},
                    }
                ]
            }
        )
        for piece in _pieces(call["function"]["arguments"], 8):
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, "tool_calls" if calls else "stop")
    if include_usage:
        last = chunk({})
        last["choices"] = []
        last["usage"] = _usage(body, reply, calls)
        yield last


# --- the subprocess entry point --------------------------------------------------------


def load_script_file(path: Path) -> dict[str, Any]:
    """Keyword arguments for ``OpenAIServer`` from a JSON script file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        return {"script": data}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a list of replies or an object")
    kwargs: dict[str, Any] = {"script": data.get("script", [])}
    if "fallback" in data:
        kwargs["fallback"] = data["fallback"]
    if "default_delay" in data:
        kwargs["default_delay"] = float(data["default_delay"])
    if "context_window" in data:
        kwargs["context_window"] = int(data["context_window"])
    if "models" in data:
        kwargs["models"] = list(data["models"])
    if "rule" in data:
        kwargs["rule"] = _declarative_rule(data["rule"])
    return kwargs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ahora.testing.openai_server",
        description="A loopback OpenAI-compatible chat-completions server playing a script.",
    )
    parser.add_argument("--script", type=Path, help="JSON script (see the module docstring)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the port here once listening")
    parser.add_argument("--log", type=Path, help="append each request body as a JSON line")
    args = parser.parse_args(argv)

    kwargs = load_script_file(args.script) if args.script else {}
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    server = OpenAIServer(host=args.host, port=args.port, log_path=args.log, **kwargs)
    server.start()
    # The port file first, then stdout: whoever reads either can connect at once.
    if args.port_file:
        tmp = args.port_file.with_name(args.port_file.name + ".tmp")
        tmp.write_text(str(server.port), encoding="utf-8")
        os.replace(tmp, args.port_file)
    print(server.port, flush=True)
    while not done.wait(0.2):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
