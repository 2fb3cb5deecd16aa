"""Put today's date, the time and the user's timezone into every model call.

The timezone is the run's (``RunContext.settings.timezone``, see ``ahora.context``)
when the run carries one, so the prompt and the clock tool agree; else the one the
graph was built with.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, tzinfo
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import SystemMessage

from ahora.context import context_of
from ahora.prompt import build_system_prompt, user_timezone

Clock = Callable[[tzinfo], datetime]


def _now(tz: tzinfo) -> datetime:
    return datetime.now(tz)


class DatePromptMiddleware(AgentMiddleware[Any, Any, Any]):
    """Builds the system prompt at call time, so "tomorrow" is always right."""

    def __init__(
        self,
        instructions: str | None,
        tz: tzinfo,
        *,
        clock: Clock = _now,
        zone_name: str | None = None,
    ) -> None:
        super().__init__()
        self.instructions = instructions
        self.tz = tz
        self.clock = clock
        self._cached: tuple[tuple[object, ...], SystemMessage] | None = None
        # ``tz`` is the zone ``zone_name`` names: known now, so a run whose context
        # names it never looks the system zone up on an event loop (a blocking read).
        self._zones: dict[str | None, tzinfo] = {zone_name: tz}

    def _system_message(self, tz: tzinfo) -> SystemMessage:
        """The prompt shows the time to the minute, so it is rebuilt once a minute."""
        now = self.clock(tz)
        # The minute, its offset and zone: what the prompt shows (no strftime per call).
        minute = (now.year, now.month, now.day, now.hour, now.minute, now.utcoffset(), tz)
        cached = self._cached
        if cached is None or cached[0] != minute:
            cached = (minute, SystemMessage(content=build_system_prompt(self.instructions, now)))
            self._cached = cached
        return cached[1]

    def _zone(self, request: ModelRequest[Any]) -> tzinfo:
        context = context_of(request)
        if context is None:
            return self.tz
        name = context.settings.timezone
        if name not in self._zones:
            self._zones[name] = user_timezone(name)
        return self._zones[name]

    def _request(self, request: ModelRequest[Any]) -> ModelRequest[Any]:
        return request.override(system_message=self._system_message(self._zone(request)))

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        return handler(self._request(request))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> ModelResponse[Any]:
        return await handler(self._request(request))
