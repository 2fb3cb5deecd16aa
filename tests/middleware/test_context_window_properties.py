"""Invariants of the context window's view, its error reading and its retry.

Property-based where the inputs are many (threads, windows, providers' wordings);
every ratio and every pair of numbers is tried in both directions, and each retry is
checked to send less than the request it retries.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain.agents.middleware import ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.utils import count_tokens_approximately

from ahora.errors import ContextWindowExceeded
from ahora.middleware.context_window import (
    CONTEXT_KEY,
    SAFE_SHARE,
    ContextWindowMiddleware,
    is_context_overflow,
    shorten,
)
from ahora.testing import ScriptedChatModel

# AHORA_TEST_EXAMPLES lowers the examples for mutation runs (each mutant reruns these).
PROPS = settings(
    max_examples=int(os.environ.get("AHORA_TEST_EXAMPLES", "80")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class ProviderError(Exception):
    """What an SDK raises: the provider's message as the exception's text."""


def _size(messages: list[BaseMessage]) -> int:
    return sum(count_tokens_approximately([m]) for m in messages)


# --- threads ----------------------------------------------------------------------------


@st.composite
def threads(draw: Any) -> tuple[list[BaseMessage], list[list[str]]]:
    """A thread of turns (question, tool steps with sourced outputs, answer) and, per
    turn, the source URLs its tools returned. The last turn is the current one."""
    messages: list[BaseMessage] = []
    sources: list[list[str]] = []
    turns = draw(st.integers(1, 9))
    for n in range(turns):
        messages.append(HumanMessage(f"question {n} " * draw(st.integers(1, 30)), id=f"h{n}"))
        urls: list[str] = []
        for step in range(draw(st.integers(0, 3))):
            calls = [
                {"name": "fetch", "args": {"q": f"{n}.{step}.{k}"}, "id": f"c{n}.{step}.{k}"}
                for k in range(draw(st.integers(1, 2)))
            ]
            messages.append(AIMessage("", tool_calls=calls, id=f"a{n}.{step}"))
            for c in calls:
                url = f"https://example.org/{c['id']}"
                urls.append(url)
                messages.append(
                    ToolMessage(
                        "page text " * draw(st.integers(1, 600)),
                        tool_call_id=c["id"],
                        name="fetch",
                        id=f"t{c['id']}",
                        artifact={"sources": [{"url": url}]},
                    )
                )
        if n < turns - 1 or draw(st.booleans()):
            messages.append(AIMessage(f"answer {n} " * draw(st.integers(1, 60)), id=f"b{n}"))
        sources.append(urls)
    return messages, sources


def _well_formed(messages: list[BaseMessage]) -> bool:
    """Every tool result follows the assistant message that called it."""
    open_calls: set[str] = set()
    for m in messages:
        if isinstance(m, AIMessage):
            open_calls = {c["id"] for c in m.tool_calls}
        elif isinstance(m, ToolMessage):
            if m.tool_call_id not in open_calls:
                return False
        else:
            open_calls = set()
    return True


def _shows(view: list[BaseMessage], url: str) -> bool:
    for m in view:
        if url in str(m.content):
            return True
        if isinstance(m, ToolMessage) and url in str(m.artifact):
            return True  # the output itself is sent, its source beside it
    return False


def _dropped(view: list[BaseMessage]) -> int:
    if not view or not isinstance(view[0], HumanMessage):
        return 0
    found = re.search(r"The (\d+) oldest of them are left out", str(view[0].content))
    return int(found[1]) if found else 0


@PROPS
@given(threads(), st.integers(1, 40_000))
def test_any_thread_and_any_window_give_a_view_that_fits_and_keeps_every_source(
    thread: tuple[list[BaseMessage], list[list[str]]], room: int
) -> None:
    messages, sources = thread
    view = shorten(messages, room)
    whole = _size(messages)
    if whole <= room:  # fits: sent as it is
        assert not view.shortened and view.messages == messages
        return
    if not view.shortened:  # when shortening would not have paid: the thread as it is
        assert view.messages == messages and view.size == whole
        return
    assert _well_formed(view.messages)
    question = next(m for m in reversed(messages) if isinstance(m, HumanMessage))
    assert question in view.messages  # this turn's question is never cut
    actual = _size(view.messages)
    assert abs(view.size - actual) <= 0.1 * actual + 60  # the running total is honest
    assert actual <= whole
    # Every source is still named, except those of the oldest turns the digest says it
    # left out entirely (and only when nothing smaller would fit).
    dropped = _dropped(view.messages)
    for n, urls in enumerate(sources):
        if n >= dropped:
            for url in urls:
                assert _shows(view.messages, url), (n, url, dropped)
    floor = shorten(messages, 1)  # the smallest view this thread has
    if room >= floor.size + 200:  # a view that fits exists: this one fits
        # (within the digest's estimate, about a tenth low, and the note saying how
        # much of a latest output was cut: the safe share's margin takes those)
        assert view.size <= room * 1.1 + 30


@PROPS
@given(threads(), st.integers(200, 20_000), st.integers(200, 20_000))
def test_more_room_never_gives_a_smaller_view_nor_drops_more_turns(
    thread: tuple[list[BaseMessage], list[list[str]]], a: int, b: int
) -> None:
    messages, _ = thread
    small, large = sorted((a, b))
    tight, roomy = shorten(messages, small), shorten(messages, large)
    assert _dropped(tight.messages) >= _dropped(roomy.messages)
    if roomy.size <= large and tight.size <= small:
        assert tight.size <= roomy.size or small == large


# --- recognising and reading a provider's refusal ---------------------------------------

_CASES = st.sampled_from([str.lower, str.upper, str.title, str.capitalize, lambda s: s])
_SURROUND = st.text(alphabet=st.sampled_from("abc XYZ:-.{}\"'"), max_size=30)


def _commas(n: int, on: bool) -> str:
    return f"{n:,}" if on else str(n)


@st.composite
def numbered_refusals(draw: Any) -> tuple[str, int, int]:
    """A refusal that states the window and the tokens sent, in a known family's words."""
    window = draw(st.integers(1_000, 2_000_000))
    sent = draw(st.integers(1_000, 2_000_000).filter(lambda n: n != window))
    c = draw(st.booleans())
    w, s = _commas(window, c), _commas(sent, c)
    family = draw(st.sampled_from(["openai", "vllm", "anthropic"]))
    if family == "openai":
        text = (
            f"This model's maximum context length is {w} tokens. However, your messages "
            f"resulted in {s} tokens. Please reduce the length of the messages."
        )
    elif family == "vllm":
        text = (
            f"This model's maximum context length is {w} tokens. However, you requested "
            f"{s} tokens ({s} in the messages, 0 in the completion)."
        )
    else:
        text = f"prompt is too long: {s} tokens > {w} maximum"
    case = draw(_CASES)
    return draw(_SURROUND) + case(text) + draw(_SURROUND), window, sent


_PLAIN_REFUSALS = [
    "context_length_exceeded",
    "This model's maximum context length is exceeded",
    "prompt is too long",
    "Your input exceeds the context window of this model",
    "Context window exceeded",
    "the input length exceeds the context length",
    "Context length exceeded for this request",
    "the request exceeds the available context size, try increasing it",
    "exceed_context_size_error",
]


@PROPS
@given(st.sampled_from(_PLAIN_REFUSALS), _CASES, _SURROUND, _SURROUND)
def test_every_known_wording_is_recognised_in_any_case(
    text: str, case: Any, before: str, after: str
) -> None:
    assert is_context_overflow(ProviderError(before + case(text) + after))


class _BodyError(Exception):
    def __init__(self, message: str, body: Any = None, code: Any = None) -> None:
        super().__init__(message)
        self.body = body
        self.code = code


def test_the_code_and_the_body_are_read_too() -> None:
    assert is_context_overflow(_BodyError("Error code: 400", code="context_length_exceeded"))
    body = {"error": {"message": "prompt is too long: 5 tokens > 4 maximum"}}
    assert is_context_overflow(_BodyError("Error code: 400", body=body))
    assert is_context_overflow(_BodyError("Error code: 400", body="Prompt is too long"))
    assert not is_context_overflow(_BodyError("Error code: 400", body={"error": "rate"}))
    assert not is_context_overflow(_BodyError("Error code: 400", code="rate_limited"))


@pytest.mark.parametrize(
    "text",
    ["invalid tool schema", "rate limit exceeded", "maximum retries exceeded", "too long"],
)
def test_other_errors_are_not_context_errors(text: str) -> None:
    assert not is_context_overflow(ProviderError(text))


# --- the middleware: the retry reads the numbers in the right order ----------------------

_WINDOW_FOR_MODEL = 1_000_000  # big enough that the first request goes out whole


def _request(messages: list[BaseMessage], known_window: int | None = None) -> tuple[Any, Any]:
    model = ScriptedChatModel()
    models = {"scripted": {"context_window": known_window}} if known_window else {}
    return ModelRequest(model=model, messages=messages, tools=[]), ContextWindowMiddleware(models)


def _long_thread(turns: int = 8) -> list[BaseMessage]:
    messages: list[BaseMessage] = []
    for n in range(turns):
        call = {"name": "fetch", "args": {"q": str(n)}, "id": f"c{n}"}
        messages += [
            HumanMessage(f"question {n}", id=f"h{n}"),
            AIMessage("", tool_calls=[call], id=f"a{n}"),
            ToolMessage(
                "page " * 400,
                tool_call_id=f"c{n}",
                name="fetch",
                id=f"t{n}",
                artifact={"sources": [{"url": f"https://example.org/{n}"}]},
            ),
            AIMessage(f"answer {n} " * 20, id=f"b{n}"),
        ]
    messages.append(HumanMessage("and now?", id="q"))
    return messages


def _refuse_once(error: BaseException) -> tuple[list[list[BaseMessage]], Any]:
    sent: list[list[BaseMessage]] = []

    def handler(request: ModelRequest[Any]) -> ModelResponse[Any]:
        sent.append(list(request.messages))
        if len(sent) == 1:
            raise error
        return ModelResponse(result=[AIMessage("ok")])

    return sent, handler


@PROPS
@given(numbered_refusals())
def test_the_retry_is_sized_from_the_errors_numbers_read_in_the_right_order(
    refusal: tuple[str, int, int],
) -> None:
    text, window, counted = refusal
    messages = _long_thread()
    whole = _size(messages)
    # Scale the stated numbers to this thread: the provider counted ``counted`` for what
    # the estimate calls ``whole``; its window is ``window`` of the same units.
    request, middleware = _request(messages)
    sent, handler = _refuse_once(ProviderError(text))
    response = middleware.wrap_model_call(request, handler)
    assert len(sent) == 2
    assert sent[0] == messages  # unknown window: the first try goes out whole
    target = whole * window / counted * SAFE_SHARE
    retried = _size(sent[1])
    if target < whole:
        assert retried < whole  # the retry sends less than what was refused
    assert retried <= max(target, _size(shorten(messages, 1).messages)) * 1.1 + 60
    # The window the provider stated is remembered for the next turn, not the count.
    assert response.result[-1].response_metadata[CONTEXT_KEY]["window"] == window


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("prompt is too long: 9000 tokens > 3000 maximum", 3_000),
        ("prompt is too long: 3000 tokens > 9000 maximum", 9_000),
        (
            "This model's maximum context length is 3000 tokens. However, your messages "
            "resulted in 9000 tokens.",
            3_000,
        ),
        (
            "This model's maximum context length is 9000 tokens. However, you requested "
            "3000 tokens.",
            9_000,
        ),
    ],
)
def test_both_orders_of_the_two_numbers(text: str, window: int) -> None:
    request, middleware = _request(_long_thread())
    sent, handler = _refuse_once(ProviderError(text))
    response = middleware.wrap_model_call(request, handler)
    assert response.result[-1].response_metadata[CONTEXT_KEY]["window"] == window
    ratio = _size(sent[1]) / _size(sent[0])
    if window == 3_000:  # sent three times the window: the retry is about a quarter
        assert ratio < 0.3
    else:  # the window was three times what was sent (a stale count): no tiny view
        assert ratio > 0.3


@pytest.mark.parametrize("text", ["prompt is too long", "Context window exceeded"])
def test_a_retry_without_numbers_sends_at_most_half(text: str) -> None:
    messages = _long_thread()
    request, middleware = _request(messages)
    sent, handler = _refuse_once(ProviderError(text))
    middleware.wrap_model_call(request, handler)
    assert len(sent) == 2
    assert _size(sent[1]) <= _size(sent[0]) // 2 + 60
    assert sent[1][-1].content == "and now?"


async def test_the_async_retry_sends_less_too() -> None:
    messages = _long_thread()
    request, middleware = _request(messages)
    sent: list[list[BaseMessage]] = []

    async def handler(request: ModelRequest[Any]) -> ModelResponse[Any]:
        sent.append(list(request.messages))
        if len(sent) == 1:
            raise ProviderError("prompt is too long: 8,000 tokens > 2,000 maximum")
        return ModelResponse(result=[AIMessage("ok")])

    response = await middleware.awrap_model_call(request, handler)
    assert _size(sent[1]) < _size(sent[0]) // 3
    assert response.result[-1].response_metadata[CONTEXT_KEY]["window"] == 2_000


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_a_second_refusal_is_one_clear_error_naming_the_window(asynchronous: bool) -> None:
    request, middleware = _request(_long_thread())
    calls = 0
    error = ProviderError("prompt is too long: 90000 tokens > 40000 maximum")

    def handler(request: ModelRequest[Any]) -> ModelResponse[Any]:
        nonlocal calls
        calls += 1
        raise error

    async def ahandler(request: ModelRequest[Any]) -> ModelResponse[Any]:
        return handler(request)

    with pytest.raises(ContextWindowExceeded, match=r"\(40,000 tokens\)"):
        if asynchronous:
            await middleware.awrap_model_call(request, ahandler)
        else:
            middleware.wrap_model_call(request, handler)
    assert calls == 2


# --- the provider/estimate ratio, both directions ---------------------------------------


def _thread_with_usage(ratio: float) -> list[BaseMessage]:
    """A long thread whose last reply reports ``ratio`` times the estimate as its input."""
    messages = _long_thread()[:-1]
    estimate = _size(messages[:-1])
    last = messages[-1]
    assert isinstance(last, AIMessage)
    last.usage_metadata = {
        "input_tokens": int(estimate * ratio),
        "output_tokens": 10,
        "total_tokens": int(estimate * ratio) + 10,
    }
    return [*messages, HumanMessage("and now?", id="q")]


def _sent_once(middleware: ContextWindowMiddleware, request: Any) -> list[BaseMessage]:
    sent: list[list[BaseMessage]] = []

    def handler(request: ModelRequest[Any]) -> ModelResponse[Any]:
        sent.append(list(request.messages))
        return ModelResponse(result=[AIMessage("ok")])

    middleware.wrap_model_call(request, handler)
    [messages] = sent
    return messages


@PROPS
@given(st.floats(0.8, 4.0), st.integers(1_500, 6_000))
def test_a_provider_counting_more_than_the_estimate_gets_a_smaller_view(
    ratio: float, window: int
) -> None:
    sent_by_ratio = {}
    for r in (ratio, 1.0):
        messages = _thread_with_usage(r)
        request, middleware = _request(messages, known_window=window)
        sent_by_ratio[r] = _size(_sent_once(middleware, request))
    budget = window * SAFE_SHARE
    floor = _size(shorten(_thread_with_usage(1.0), 1).messages)
    # In the provider's own units the view fits the budget (when anything can).
    if floor * ratio <= budget * 0.8:
        assert sent_by_ratio[ratio] * ratio <= budget * 1.1 + 60
    # Counting more than the estimate never gives a bigger view, and less never smaller.
    if ratio > 1.2:
        assert sent_by_ratio[ratio] <= sent_by_ratio[1.0]
    if ratio < 0.95 and sent_by_ratio[1.0] < _size(_thread_with_usage(1.0)):
        assert sent_by_ratio[ratio] >= sent_by_ratio[1.0]


def test_the_ratio_in_both_directions_at_its_bounds() -> None:
    window = 4_000
    sizes = {}
    for r in (0.8, 1.0, 2.0, 4.0):
        request, middleware = _request(_thread_with_usage(r), known_window=window)
        sizes[r] = _size(_sent_once(middleware, request))
    assert sizes[0.8] > sizes[1.0] > sizes[2.0] > sizes[4.0]
    assert sizes[2.0] * 2 <= window * SAFE_SHARE * 1.1


def test_the_ratio_is_capped_and_falls_back_to_one() -> None:
    window = 4_000
    sizes = {}
    for r in (4.0, 8.0):
        request, middleware = _request(_thread_with_usage(r), known_window=window)
        sizes[r] = _size(_sent_once(middleware, request))
    assert sizes[8.0] == sizes[4.0]  # a wild count is capped at four times the estimate
    # No usage reported (or a zero count): the estimate is taken as it is.
    plain = _long_thread()
    zero = _thread_with_usage(1.0)
    last_ai = zero[-2]
    assert isinstance(last_ai, AIMessage)
    last_ai.usage_metadata = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
    for messages in (plain, zero):
        request, middleware = _request(messages, known_window=window)
        sent = _size(_sent_once(middleware, request))
        assert window * SAFE_SHARE * 0.6 < sent <= window * SAFE_SHARE * 1.1


def test_what_came_after_the_last_reported_usage_counts() -> None:
    """The cheap check adds what came after the last reply, and its output, to the
    provider's count: a small count followed by a big tool output does not fit."""
    window = 4_000
    for input_tokens, output_tokens, big in ((100, 10, True),):
        call = {"name": "fetch", "args": {"q": "now"}, "id": "cnow"}
        messages: list[BaseMessage] = [
            *_long_thread(3)[:-1],
            HumanMessage("and now?", id="q"),
            AIMessage(
                "",
                tool_calls=[call],
                id="anow",
                usage_metadata={
                    "input_tokens": input_tokens,
                    "output_tokens": output_tokens,
                    "total_tokens": input_tokens + output_tokens,
                },
            ),
            ToolMessage(
                "page " * (6_000 if big else 10), tool_call_id="cnow", name="fetch", id="tnow"
            ),
        ]
        request, middleware = _request(messages, known_window=window)
        sent = _sent_once(middleware, request)
        assert sent != messages, (input_tokens, output_tokens)  # shortened
