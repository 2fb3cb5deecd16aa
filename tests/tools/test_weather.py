"""The weather tool against the loopback Open-Meteo (tests/fixtures/open_meteo.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_tests.unit_tests import ToolsUnitTests

from ahora.tools.weather import WMO_CODES, weather
from tests.fixtures import open_meteo
from tests.fixtures.faults import FAULTS, assert_survived
from tests.fixtures.open_meteo import DAILY_CODES, OpenMeteoServer, closed_url

open_meteo_server = open_meteo.open_meteo_server  # the fixture, under its own name


def call(**args: Any) -> ToolMessage:
    msg = weather.invoke({"type": "tool_call", "id": "call-1", "name": "weather", "args": args})
    assert isinstance(msg, ToolMessage)
    return msg


class TestWeatherStandard(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return weather

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"location": "Santiago, Chile", "days": 3}


def test_resolves_place_and_lists_other_candidates(open_meteo_server: OpenMeteoServer) -> None:
    msg = call(location="Santiago")
    text = str(msg.content)
    first, others = text.splitlines()[:2]
    assert first == (
        "Weather for Santiago, Región Metropolitana, Chile"
        " (lat -33.45694, lon -70.64827; time zone America/Santiago)"
    )
    assert others == "Other matches: Santiago, Veraguas, Panama; Santiago de Cuba, Cuba"
    assert "Now (2026-11-19 14:00 local): 21.4°C (feels like 20.9°C), partly cloudy" in text
    assert "humidity 48%, precipitation 0.0 mm, wind 11.2 km/h (gusts 24.5 km/h)" in text
    day_lines = [line for line in text.splitlines() if re.match(r"\d{4}-\d\d-\d\d ", line)]
    assert day_lines == [
        "2026-11-19 Thu: partly cloudy, max 24.0°C / min 12.0°C, precipitation 0.0 mm"
        " (10% chance), wind up to 18.0 km/h, sunrise 06:30, sunset 20:10",
        "2026-11-20 Fri: slight rain, max 25.0°C / min 13.0°C, precipitation 4.2 mm"
        " (80% chance), wind up to 19.0 km/h, sunrise 06:31, sunset 20:11",
        "2026-11-21 Sat: thunderstorm, max 26.0°C / min 14.0°C, precipitation 12.5 mm"
        " (95% chance), wind up to 20.0 km/h, sunrise 06:32, sunset 20:12",
    ]


def test_forecast_request_parameters(open_meteo_server: OpenMeteoServer) -> None:
    call(location="Tokyo", days=5)
    (geo,) = open_meteo_server.requests_to("/v1/search")
    assert geo.params == {"name": "Tokyo", "count": "10", "language": "en", "format": "json"}
    (fc,) = open_meteo_server.requests_to("/v1/forecast")
    assert fc.params == {
        "latitude": "35.6895",
        "longitude": "139.69171",
        "current": "temperature_2m,relative_humidity_2m,apparent_temperature,precipitation,"
        "weather_code,wind_speed_10m,wind_gusts_10m",
        "daily": "weather_code,temperature_2m_max,temperature_2m_min,precipitation_sum,"
        "precipitation_probability_max,wind_speed_10m_max,sunrise,sunset",
        "timezone": "auto",
        "forecast_days": "5",
        "temperature_unit": "celsius",
        "wind_speed_unit": "kmh",
        "precipitation_unit": "mm",
    }
    assert "User-Agent" in fc.headers and fc.headers["User-Agent"].startswith("ahora/")


def test_sources_name_the_place(open_meteo_server: OpenMeteoServer) -> None:
    msg = call(location="Santiago, Chile")
    forecast, geocoding = msg.artifact["sources"]
    assert forecast["title"] == "Open-Meteo forecast for Santiago, Región Metropolitana, Chile"
    assert forecast["url"].startswith(f"{open_meteo_server.url}/v1/forecast?latitude=-33.45694")
    assert geocoding["url"].startswith(f"{open_meteo_server.url}/v1/search?name=Santiago")
    assert geocoding["title"] == "Open-Meteo geocoding for 'Santiago, Chile'"


def test_imperial_units(
    open_meteo_server: OpenMeteoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AHORA_UNITS", "imperial")
    text = str(call(location="London", days=1).content)
    (fc,) = open_meteo_server.requests_to("/v1/forecast")
    assert fc.params["temperature_unit"] == "fahrenheit"
    assert fc.params["wind_speed_unit"] == "mph"
    assert fc.params["precipitation_unit"] == "inch"
    assert "Now (2026-11-19 14:00 local): 70.5°F (feels like 69.6°F)" in text
    assert "max 75.2°F / min 53.6°F, precipitation 0.0 inch" in text
    assert "wind 7.0 mp/h" in text


@pytest.mark.parametrize(
    ("location", "expected", "searched"),
    [
        ("Limerick Ireland", "Limerick, Munster, Ireland", ["Limerick Ireland", "Limerick"]),
        ("Limerick, Ireland", "Limerick, Munster, Ireland", ["Limerick, Ireland"]),
        ("Limerick, Pennsylvania", "Limerick, Pennsylvania, United States", None),
        ("Santiago, Spain", "Santiago de Compostela, Galicia, Spain", None),
        ("London Canada", "London, Ontario, Canada", None),
        ("  new   york  ", "New York, United States", ["new york"]),
        ("New York USA", "New York, United States", ["New York USA", "New York"]),
        # Upstream knows no "Republic of Ireland": retry with the part before the comma.
        ("Limerick, Republic of Ireland", "Limerick, Munster, Ireland", None),
    ],
)
def test_geocoding_free_text(
    open_meteo_server: OpenMeteoServer, location: str, expected: str, searched: list[str] | None
) -> None:
    text = str(call(location=location, days=1).content)
    assert text.startswith(f"Weather for {expected} ("), text
    if searched is not None:
        assert [r.params["name"] for r in open_meteo_server.requests_to("/v1/search")] == searched


def test_country_code_filter_when_text_names_one(open_meteo_server: OpenMeteoServer) -> None:
    text = str(call(location="London UK", days=1).content)
    assert text.startswith("Weather for London, England, United Kingdom")
    last = open_meteo_server.requests_to("/v1/search")[-1]
    assert last.params["name"] == "London" and last.params["countryCode"] == "GB"


def test_no_match_says_so_and_suggests_city_country(open_meteo_server: OpenMeteoServer) -> None:
    msg = call(location="Atlantis")
    assert msg.content == (
        "Error: no place called 'Atlantis' was found; "
        'try "City, Country" (for example "Limerick, Ireland")'
    )
    assert msg.artifact["sources"] == [] and "Atlantis" in msg.artifact["error"]


def test_unknown_region_falls_back_to_the_city_and_says_so(
    open_meteo_server: OpenMeteoServer,
) -> None:
    text = str(call(location="Santiago, Atlantis", days=1).content)
    lines = text.splitlines()
    assert lines[0].startswith("Weather for Santiago, Región Metropolitana, Chile (")
    assert lines[1] == "(No 'Santiago' found in 'Atlantis'; showing the best match for 'Santiago'.)"


def test_too_short_location(open_meteo_server: OpenMeteoServer) -> None:
    assert str(call(location=" x ").content).startswith("Error: the location is empty or too short")
    assert open_meteo_server.requests == []


@pytest.mark.parametrize(("days", "sent", "lines"), [(30, "16", 16), (0, "1", 1), (-4, "1", 1)])
def test_days_are_clamped_and_the_model_is_told(
    open_meteo_server: OpenMeteoServer, days: int, sent: str, lines: int
) -> None:
    text = str(call(location="Tokyo", days=days).content)
    assert open_meteo_server.requests_to("/v1/forecast")[0].params["forecast_days"] == sent
    assert f"(Asked for {days} days; Open-Meteo forecasts 1 to 16, so showing {sent}.)" in text
    assert len([ln for ln in text.splitlines() if re.match(r"\d{4}-\d\d-\d\d ", ln)]) == lines


def test_sixteen_days_name_every_code_in_words(open_meteo_server: OpenMeteoServer) -> None:
    text = str(call(location="Tokyo", days=16).content)
    for code in DAILY_CODES:
        assert f": {WMO_CODES[code]}, max" in text
    assert "weather code" not in text


def test_wmo_table_is_complete() -> None:
    expected = {0, 1, 2, 3, 45, 48, 51, 53, 55, 56, 57, 61, 63, 65, 66, 67, 71, 73, 75, 77}
    expected |= {80, 81, 82, 85, 86, 95, 96, 99}
    assert set(WMO_CODES) == expected


def test_http_400_reason_reaches_the_model(open_meteo_server: OpenMeteoServer) -> None:
    reason = "Parameter 'forecast_days' is out of allowed range from 0 to 16"
    open_meteo_server.override("/v1/forecast", 400, {"error": True, "reason": reason})
    msg = call(location="Tokyo")
    assert msg.content == f"Error: Open-Meteo rejected the request: {reason}"
    assert msg.artifact["error"] == f"Open-Meteo rejected the request: {reason}"


def test_fixture_rejects_out_of_range_days_like_upstream() -> None:
    import requests

    with OpenMeteoServer() as srv:
        resp = requests.get(
            f"{srv.url}/v1/forecast", params={"latitude": 1, "longitude": 2, "forecast_days": 17}
        )
    assert resp.status_code == 400
    reason = "Forecast days is invalid. Allowed range 0 to 16."
    assert resp.json() == {"error": True, "reason": reason}


def test_geocoding_400(open_meteo_server: OpenMeteoServer) -> None:
    open_meteo_server.override("/v1/search", 400, {"error": True, "reason": "Invalid language"})
    content = call(location="Tokyo").content
    assert content == "Error: Open-Meteo rejected the request: Invalid language"


def test_rate_limited(open_meteo_server: OpenMeteoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_HTTP_RETRIES", "0")
    open_meteo_server.override(
        "/v1/forecast", 429, {"error": True, "reason": "Minutely API request limit exceeded."}
    )
    assert call(location="Tokyo").content == (
        "Error: Open-Meteo's rate limit was reached (HTTP 429); try again in a minute"
    )


def test_server_error(open_meteo_server: OpenMeteoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AHORA_HTTP_RETRIES", "0")
    open_meteo_server.override("/v1/forecast", 503, "Service Unavailable")
    assert call(location="Tokyo").content == (
        "Error: Open-Meteo is having trouble (HTTP 503); try again later"
    )


def test_one_server_error_is_retried(open_meteo_server: OpenMeteoServer) -> None:
    open_meteo_server.override("/v1/forecast", 502, "Bad Gateway")
    assert str(call(location="Tokyo").content).startswith("Weather for Tokyo, Japan")
    assert len(open_meteo_server.requests_to("/v1/forecast")) == 2


def test_connection_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    url = closed_url()
    monkeypatch.setenv("AHORA_GEOCODING_URL", url)
    monkeypatch.setenv("AHORA_HTTP_RETRIES", "0")
    content = str(call(location="Tokyo").content)
    assert content.startswith(f"Error: Open-Meteo is unreachable: could not connect to {url[7:]}")


def test_malformed_json(open_meteo_server: OpenMeteoServer) -> None:
    open_meteo_server.override("/v1/forecast", 200, "<html>not json{")
    assert call(location="Tokyo").content == (
        "Error: Open-Meteo sent a malformed reply (not a JSON object)"
    )


def test_json_without_forecast(open_meteo_server: OpenMeteoServer) -> None:
    open_meteo_server.override("/v1/forecast", 200, {"latitude": 1.0, "longitude": 2.0})
    content = str(call(location="Tokyo").content)
    assert content.startswith("Error: Open-Meteo sent a malformed forecast (missing or bad")


def test_cache_key_is_stable(open_meteo_server: OpenMeteoServer) -> None:
    first = call(location="Tokyo").content
    second = call(location="  Tokyo ").content
    assert first == second
    assert len(open_meteo_server.requests_to("/v1/search")) == 1
    assert len(open_meteo_server.requests_to("/v1/forecast")) == 1


def test_fault_is_survived(tmp_path: Path) -> None:
    """With the network down the weather tool says so."""
    assert_survived(FAULTS["network_down"], tmp_path)
