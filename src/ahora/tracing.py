"""OpenTelemetry for ahora's runs: when it is on, how it is set up, the run's span.

Tracing is on when the standard ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (ahora then installs a ``TracerProvider`` that
exports over OTLP, ``OTEL_EXPORTER_OTLP_PROTOCOL`` choosing ``http/protobuf``, the
default, or ``grpc``), or when the app installed a ``TracerProvider`` of its own, or
when ``use_provider`` gave one. ``OTEL_SDK_DISABLED=true`` turns it off.

Off, it costs nothing measurable: ``enabled()`` reads two environment variables and
``sys.modules``, and OpenTelemetry is never imported. The spans follow the GenAI
semantic conventions (``invoke_agent``, ``chat {model}``, ``execute_tool {name}``);
message contents are added only when ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
is true. The provider ahora installs flushes at exit (the SDK's own ``atexit``), so
the CLI's spans are sent before it ends; ``flush()`` forces it sooner.

Model and tool spans are made by ``middleware/tracing.py``; the run's span is opened
around ``Agent``'s runs (``agent_run``) and handed to the middleware in the run's
config (``TRACE_KEY``), so it does not depend on which thread runs a node.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ahora.__about__ import __version__

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = [
    "TRACE_KEY",
    "AgentRun",
    "agent_run",
    "capture_content",
    "enabled",
    "flush",
    "parent_span",
    "tracer",
    "use_provider",
]

TRACE_KEY = "ahora_trace"
"""``config["configurable"][TRACE_KEY]``: the run's ``invoke_agent`` span."""

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_DEFAULT_PROVIDERS = ("ProxyTracerProvider", "NoOpTracerProvider")


class _State:
    """What was set up, once per process (lazily: nothing happens at import)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.provider: Any = None  # given by use_provider
        self.installed: Any = None  # the provider ahora installed from the environment
        self.tracers: dict[int, Any] = {}
        self.env: bool | None = None  # what the environment asks for, read once


_state = _State()


def _wanted_by_env() -> bool:
    """Whether the environment asks for traces; read once per process (``enabled`` runs
    on every model and tool call)."""
    if _state.env is None:
        env = os.environ
        disabled = env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
        wanted = not disabled and any(env.get(name) for name in _ENDPOINTS)
        _state.env = wanted and _installed()
    return _state.env


def _installed() -> bool:
    """Whether the SDK and the chosen exporter can be imported; a warning if not, so a
    machine-wide OTLP endpoint never breaks a run of an ahora without the extra."""
    try:
        import opentelemetry.sdk.trace  # noqa: F401

        _exporter_class()
    except ImportError as exc:
        warnings.warn(
            f"{_ENDPOINTS[1]} is set but OpenTelemetry's SDK or exporter is missing ({exc}): "
            "runs are not traced. Install them with: pip install 'ahora[otel]'",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    return True


def enabled() -> bool:
    """Whether runs are traced now. Cheap, and imports nothing when the answer is no.

    Called on every model and tool call, so it reads no environment variable (those
    are read once) and does not call ``get_tracer_provider`` (which reads one): an
    app installed a provider when OpenTelemetry's global holds one.
    """
    if _state.provider is not None or _wanted_by_env():
        return True
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:  # no one has imported OpenTelemetry, so none installed a provider
        return False
    # LangSmith imports OpenTelemetry without installing a provider: the global stays None.
    return getattr(trace, "_TRACER_PROVIDER", None) is not None


def capture_content() -> bool:
    """The GenAI conventions' opt-in for message contents on spans."""
    return os.environ.get(_CAPTURE, "").strip().lower() in ("true", "1")


def use_provider(provider: TracerProvider | None) -> None:
    """Trace ahora's runs with ``provider`` instead of the global one (None: back to the
    global). For apps and tests that keep several providers in one process."""
    with _state.lock:
        _state.provider = provider
        _state.tracers.clear()


def _exporter_class() -> Any:
    """The OTLP exporter ``OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL`` names (HTTP by default)."""
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    if protocol.strip().lower() == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HTTPSpanExporter,
    )

    return HTTPSpanExporter


def _exporter() -> Any:
    return _exporter_class()()  # reads the endpoint, headers and timeout from the environment


def _global_provider() -> Any:
    """The app's provider, or one ahora installs from the OTLP environment variables."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if type(provider).__name__ not in _DEFAULT_PROVIDERS or not _wanted_by_env():
        return provider  # the app's own
    with _state.lock:
        if _state.installed is None:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
            resource = Resource.create({"service.name": "ahora"} | _service_from_env())
            installed = TracerProvider(resource=resource)  # flushes at exit (atexit)
            installed.add_span_processor(BatchSpanProcessor(_exporter()))
            trace.set_tracer_provider(installed)
            _state.installed = installed
    return trace.get_tracer_provider()


def _service_from_env() -> dict[str, str]:
    name = os.environ.get("OTEL_SERVICE_NAME")
    return {"service.name": name} if name else {}


def tracer() -> Tracer:
    """ahora's tracer on the provider in use (set up on first use)."""
    provider = _state.provider if _state.provider is not None else _global_provider()
    found = _state.tracers.get(id(provider))
    if found is None:
        found = provider.get_tracer("ahora", __version__)
        _state.tracers[id(provider)] = found
    return found  # type: ignore[no-any-return]


def flush(timeout_millis: int = 5000) -> None:
    """Send the spans still buffered (the CLI's exit does this too)."""
    if "opentelemetry.trace" not in sys.modules:
        return
    from opentelemetry import trace

    provider = _state.provider or trace.get_tracer_provider()
    force = getattr(provider, "force_flush", None)
    if force is not None:
        force(timeout_millis)


def parent_span(configurable: Mapping[str, Any] | None) -> Span | None:
    """The run's span from a run's ``configurable``, if ``agent_run`` opened one."""
    return (configurable or {}).get(TRACE_KEY)


class AgentRun:
    """One ``invoke_agent`` span around a run of ``Agent`` (a no-op when tracing is off).

    ``config`` is the run's config with the span in it; ``finish(answer)`` adds what the
    run decided (pending approvals, an early stop, totals) and ends the span. Leaving
    the ``with`` block by an exception ends it with an error status.
    """

    def __init__(self, config: Any, payload: Any, *, agent: str, model: str) -> None:
        self.config = config
        self.span: Span | None = None
        self._agent = agent
        self._model = model
        self._payload = payload

    def __enter__(self) -> AgentRun:
        if not enabled():
            return self
        from opentelemetry.trace import SpanKind

        configurable = dict(self.config.get("configurable", {}))
        span = tracer().start_span(f"invoke_agent {self._agent}", kind=SpanKind.INTERNAL)
        span.set_attributes(
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": self._agent,
                "gen_ai.request.model": self._model,
                "gen_ai.conversation.id": str(configurable.get("thread_id", "")),
            }
        )
        answers = _decisions(self._payload)
        if answers:
            span.add_event("ahora.approval.answered", {"ahora.approval.decisions": answers})
        self.span = span
        self.config = {**self.config, "configurable": {**configurable, TRACE_KEY: span}}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.span is None or exc is None:
            return
        from opentelemetry.trace import Status, StatusCode

        if not isinstance(exc, GeneratorExit):  # a stream the caller stopped reading
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            self.span.set_attribute("error.type", type(exc).__name__)
        self.span.end()
        self.span = None

    def finish(self, answer: Any) -> Any:
        """Record the answer's totals and decisions on the span and end it."""
        span, self.span = self.span, None
        if span is None:
            return answer
        usage = getattr(answer, "usage", {}) or {}
        span.set_attributes(
            {
                "gen_ai.usage.input_tokens": int(usage.get("input_tokens", 0)),
                "gen_ai.usage.output_tokens": int(usage.get("output_tokens", 0)),
                "ahora.steps": int(getattr(answer, "steps", 0)),
            }
        )
        cost = getattr(answer, "cost_usd", None)
        if cost is not None:
            span.set_attribute("ahora.cost_usd", float(cost))
        if getattr(answer, "stopped_early", False):
            span.set_attribute("ahora.stop_reason", str(answer.stop_reason or ""))
        pending = getattr(answer, "pending", None) or []
        if pending:
            names = [str(p.get("name", "")) for p in pending]
            span.add_event("ahora.approval.asked", {"gen_ai.tool.name": names})
        span.end()
        return answer


def _decisions(payload: Any) -> list[str]:
    """A resume's answers to approvals (``Command(resume={"decisions": [...]})``)."""
    resume = getattr(payload, "resume", None)
    if not isinstance(resume, Mapping):
        return []
    found: Sequence[Any] = resume.get("decisions") or ()
    return [str(d.get("type", "")) for d in found if isinstance(d, Mapping)]


def agent_run(config: Any, payload: Any, *, agent: str, model: str) -> AgentRun:
    """The span of one run of ``payload`` (a question, or a resume after approvals)."""
    return AgentRun(config, payload, agent=agent, model=model)
