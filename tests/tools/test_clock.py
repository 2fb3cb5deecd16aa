"""The clock tool: IANA zones (forgiving about case, spaces and bare cities), defaults, errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from langchain_core.tools import BaseTool
from langchain_tests.unit_tests import ToolsUnitTests

from ahora.tools.clock import clock, resolve_timezone

ISO = re.compile(r"ISO 8601: (\S+)$", re.M)


def now_from(text: str) -> datetime:
    match = ISO.search(text)
    assert match, text
    return datetime.fromisoformat(match.group(1))


class TestClockStandard(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return clock

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"timezone": "America/Santiago"}


@pytest.mark.parametrize(
    ("given", "zone", "offset"),
    [
        ("Asia/Tokyo", "Asia/Tokyo", "UTC+09:00"),
        ("asia/kolkata", "Asia/Kolkata", "UTC+05:30"),
        ("America/Argentina/Buenos Aires", "America/Argentina/Buenos_Aires", "UTC-03:00"),
        ("tokyo", "Asia/Tokyo", "UTC+09:00"),
        ("  UTC ", "UTC", "UTC+00:00"),
    ],
)
def test_named_zone(given: str, zone: str, offset: str) -> None:
    text = clock.invoke({"timezone": given})
    assert f" in {zone} ({offset}" in text
    now = now_from(text)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)
    assert now.strftime("%A %d %B %Y, %H:%M:%S") in text  # weekday, date and time agree


def test_abbreviation_shown_when_the_zone_has_one() -> None:
    assert "(UTC+09:00, JST)" in clock.invoke({"timezone": "Asia/Tokyo"})


def test_unknown_zone_suggests_the_format() -> None:
    text = clock.invoke({"timezone": "Mars/Olympus_Mons"})
    assert text == (
        "Error: unknown time zone 'Mars/Olympus_Mons'; use an IANA name such as"
        ' "America/Santiago" or "Europe/Madrid".'
    )


def test_typo_gets_close_matches() -> None:
    text = clock.invoke({"timezone": "America/Santiag"})
    assert text.startswith("Error: unknown time zone 'America/Santiag'")
    assert "Did you mean America/Santiago" in text


def test_default_is_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_TIMEZONE", "america/santiago")
    assert " in America/Santiago (UTC-0" in clock.invoke({})


def test_bad_setting_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_TIMEZONE", "Nowhere/Land")
    text = clock.invoke({})
    assert text.startswith("Error: the AHORA_TIMEZONE setting is wrong: unknown time zone")


def test_default_without_setting_is_the_machine_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Madrid")
    text = clock.invoke({"timezone": None})
    assert " in Europe/Madrid (UTC+0" in text
    assert abs(now_from(text) - datetime.now(UTC)) < timedelta(seconds=5)


def test_resolve_timezone_rejects_empty() -> None:
    from ahora.errors import ToolFailure

    with pytest.raises(ToolFailure, match="empty time zone"):
        resolve_timezone("   ")
