"""The date prompt is rebuilt when the minute changes, and only then (the prompt shows
the time to the minute; rebuilding it on every call would waste work on long runs)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from ahora.middleware.date_prompt import DatePromptMiddleware

LISBON = ZoneInfo("Europe/Lisbon")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 9, 15, 5, tzinfo=LISBON)

    def __call__(self, tz: tzinfo) -> datetime:
        return self.now


class Request:
    """Just what the middleware uses of a ModelRequest."""

    def __init__(self) -> None:
        self.system_message: Any = None

    def override(self, **changes: Any) -> Request:
        new = Request()
        new.system_message = changes["system_message"]
        return new


def test_the_prompt_is_reused_within_a_minute_and_rebuilt_after_it() -> None:
    clock = Clock()
    mw = DatePromptMiddleware("Be brief.", LISBON, clock=clock)
    seen: list[Any] = []

    def handler(request: Any) -> str:
        seen.append(request.system_message)
        return "ok"

    mw.wrap_model_call(Request(), handler)  # type: ignore[arg-type]
    clock.now = clock.now.replace(second=50)
    mw.wrap_model_call(Request(), handler)  # type: ignore[arg-type]
    clock.now = clock.now.replace(minute=16, second=0)
    mw.wrap_model_call(Request(), handler)  # type: ignore[arg-type]
    assert seen[0] is seen[1]  # same minute: the same message, not rebuilt
    assert seen[2] is not seen[1]
    assert "09:15" in seen[0].content and "09:16" in seen[2].content
    assert str(seen[2].content).endswith("Be brief.")
