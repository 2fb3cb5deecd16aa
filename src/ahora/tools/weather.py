"""The ``weather`` tool: current conditions and a daily forecast from Open-Meteo (no key).

Two requests: geocoding turns free text into a place (Open-Meteo's geocoding API
matches names only, so "Limerick Ireland" finds nothing while "Limerick, Ireland"
does: we retry with the city part and filter by the country or region the text
names), then the forecast for that place's coordinates. The reply says which place
was resolved, and lists other candidates, so the model can tell the wrong Santiago.

Both requests go through the shared HTTP session, whose cache keeps answers for
``http_cache_seconds``; the geocoding parameters are normalised (whitespace, fixed
order, fixed ``count`` and ``language``) so the same place hits the same cache entry.
"""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

import requests
from langchain_core.tools import tool

from ahora import http
from ahora.errors import ToolFailure
from ahora.settings import Settings
from ahora.tools._common import Artifact, Runtime, Source, failures_as_messages, settings_of, source

__all__ = ["WMO_CODES", "weather"]

MAX_DAYS = 16
GEOCODE_COUNT = 10

WMO_CODES: dict[int, str] = {
    0: "clear sky",
    1: "mainly clear",
    2: "partly cloudy",
    3: "overcast",
    45: "fog",
    48: "depositing rime fog",
    51: "light drizzle",
    53: "moderate drizzle",
    55: "dense drizzle",
    56: "light freezing drizzle",
    57: "dense freezing drizzle",
    61: "slight rain",
    63: "moderate rain",
    65: "heavy rain",
    66: "light freezing rain",
    67: "heavy freezing rain",
    71: "slight snow",
    73: "moderate snow",
    75: "heavy snow",
    77: "snow grains",
    80: "slight rain showers",
    81: "moderate rain showers",
    82: "violent rain showers",
    85: "slight snow showers",
    86: "heavy snow showers",
    95: "thunderstorm",
    96: "thunderstorm with slight hail",
    99: "thunderstorm with heavy hail",
}

CURRENT = (
    "temperature_2m,relative_humidity_2m,apparent_temperature,precipitation,"
    "weather_code,wind_speed_10m,wind_gusts_10m"
)
DAILY = (
    "weather_code,temperature_2m_max,temperature_2m_min,precipitation_sum,"
    "precipitation_probability_max,wind_speed_10m_max,sunrise,sunset"
)
UNITS = {
    "metric": {"temperature_unit": "celsius", "wind_speed_unit": "kmh", "precipitation_unit": "mm"},
    "imperial": {
        "temperature_unit": "fahrenheit",
        "wind_speed_unit": "mph",
        "precipitation_unit": "inch",
    },
}

# Common ways of naming a country that are neither its name nor its ISO code.
_COUNTRY_ALIASES = {
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "uk": "GB",
    "u.k.": "GB",
    "britain": "GB",
    "great britain": "GB",
}


def describe_code(code: Any) -> str:
    """WMO weather code in words."""
    try:
        return WMO_CODES[int(code)]
    except (TypeError, ValueError, KeyError):
        return f"weather code {code}"


# --- HTTP --------------------------------------------------------------------------


def _get_json(url: str, params: dict[str, Any], settings: Settings) -> tuple[dict[str, Any], str]:
    """GET an Open-Meteo endpoint: the JSON object and the final URL, or ToolFailure."""
    try:
        resp = http.get(url, params=params, settings=settings)
    except ToolFailure as exc:
        raise ToolFailure(f"Open-Meteo is unreachable: {exc}") from exc
    try:
        data = resp.json()
    except ValueError:
        data = None
    if resp.status_code == 400:
        reason = data.get("reason") if isinstance(data, dict) else None
        raise ToolFailure(f"Open-Meteo rejected the request: {reason or 'HTTP 400'}")
    if resp.status_code == 429:
        raise ToolFailure("Open-Meteo's rate limit was reached (HTTP 429); try again in a minute")
    if resp.status_code >= 500:
        raise ToolFailure(
            f"Open-Meteo is having trouble (HTTP {resp.status_code}); try again later"
        )
    if resp.status_code >= 400:
        raise ToolFailure(f"Open-Meteo answered HTTP {resp.status_code}")
    if not isinstance(data, dict):
        raise ToolFailure("Open-Meteo sent a malformed reply (not a JSON object)")
    return data, resp.url or requests.Request("GET", url, params=params).prepare().url or url


# --- geocoding ---------------------------------------------------------------------


def _label(place: dict[str, Any]) -> str:
    parts = [place.get("name"), place.get("admin1"), place.get("country")]
    out: list[str] = []
    for p in parts:
        if p and p not in out:
            out.append(str(p))
    return ", ".join(out)


def _matches(place: dict[str, Any], qualifier: str) -> bool:
    """Does the place lie in the country/region the user named ("Ireland", "IE", "Munster")?"""
    q = qualifier.strip().casefold()
    code = _COUNTRY_ALIASES.get(q, q).casefold()
    if code == str(place.get("country_code", "")).casefold():
        return True
    names = [str(place.get(k) or "").casefold() for k in ("country", "admin1", "admin2", "admin3")]
    # "Republic of Ireland" names Ireland; "Munster" names the region.
    return any(n and (n == q or (len(n) >= 4 and n in q)) for n in names)


def _attempts(text: str) -> list[tuple[str, str | None]]:
    """(name to search, place qualifier) pairs to try in order, for free text."""
    if "," in text:
        city, _, rest = text.partition(",")
        qualifier = rest.split(",")[-1].strip() or None
        return [(text, None), (city.strip(), qualifier)]
    words = text.split()
    attempts: list[tuple[str, str | None]] = [(text, None)]
    # "Limerick Ireland", "New York USA": the trailing words may name the country.
    for k in range(len(words) - 1, max(0, len(words) - 4), -1):
        attempts.append((" ".join(words[:k]), " ".join(words[k:])))
    return attempts


def _search_places(name: str, qualifier: str | None, settings: Settings) -> _Found:
    params: dict[str, Any] = {
        "name": name,
        "count": GEOCODE_COUNT,
        "language": "en",
        "format": "json",
    }
    q = (qualifier or "").strip()
    code = _COUNTRY_ALIASES.get(q.casefold()) or (
        q.upper() if len(q) == 2 and q.isalpha() else None
    )
    if code:
        params["countryCode"] = code
    data, url = _get_json(f"{settings.geocoding_url.rstrip('/')}/v1/search", params, settings)
    results = data.get("results")
    places = [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []
    places = [p for p in places if "latitude" in p and "longitude" in p]
    matching = [p for p in places if _matches(p, q)] if q and not code else places
    return _Found(matching, places, url)


class _Found(NamedTuple):
    matching: list[dict[str, Any]]  # the places that fit the qualifier
    unfiltered: list[dict[str, Any]]  # everything the name found
    url: str


def geocode(
    location: str, settings: Settings
) -> tuple[dict[str, Any], list[dict[str, Any]], str, str]:
    """The best place for ``location``, up to two others, the geocoding URL and a note."""
    text = " ".join(location.split())
    if len(text) < 2:
        raise ToolFailure(
            'the location is empty or too short; give a place such as "Santiago, Chile"'
        )
    attempts = _attempts(text)
    fallback: tuple[_Found, str, str] | None = None
    for name, qualifier in attempts:
        if len(name) < 2:
            continue
        found = _search_places(name, qualifier, settings)
        if found.matching:
            return found.matching[0], found.matching[1:3], found.url, ""
        if found.unfiltered and fallback is None and "," in text:
            fallback = (found, name, qualifier or "")
    if fallback is not None:
        # "City, Somewhere" where Somewhere matched nothing: show the best city, say so.
        found, name, qualifier = fallback
        note = f"(No {name!r} found in {qualifier!r}; showing the best match for {name!r}.)"
        return found.unfiltered[0], found.unfiltered[1:3], found.url, note
    raise ToolFailure(
        f'no place called {text!r} was found; try "City, Country" (for example "Limerick, Ireland")'
    )


# --- forecast ----------------------------------------------------------------------


def _num(value: Any, unit: str) -> str:
    if value is None:
        return "n/a"
    sep = "" if unit.startswith("°") or unit == "%" else " "
    return f"{value}{sep}{unit}"


def _clock_time(iso: Any) -> str:
    text = str(iso or "")
    return text.split("T", 1)[1] if "T" in text else (text or "n/a")


def format_forecast(
    place: dict[str, Any], others: list[dict[str, Any]], data: dict[str, Any]
) -> str:
    """The model-facing text: resolved place, current conditions, one line per day."""
    lat, lon = place.get("latitude"), place.get("longitude")
    tz = data.get("timezone") or place.get("timezone") or "unknown"
    lines = [f"Weather for {_label(place)} (lat {lat}, lon {lon}; time zone {tz})"]
    if others:
        lines.append("Other matches: " + "; ".join(_label(o) for o in others))
    try:
        cur, cu = data["current"], data.get("current_units", {})

        def now(key: str) -> str:
            return _num(cur.get(key), cu.get(key, "%" if "humidity" in key else ""))

        lines.append(
            f"Now ({str(cur['time']).replace('T', ' ')} local): {now('temperature_2m')}"
            f" (feels like {now('apparent_temperature')}),"
            f" {describe_code(cur.get('weather_code'))},"
            f" humidity {now('relative_humidity_2m')}, precipitation {now('precipitation')},"
            f" wind {now('wind_speed_10m')} (gusts {now('wind_gusts_10m')})"
        )
        daily, du = data["daily"], data.get("daily_units", {})
        lines.append("Daily forecast:")
        for i, day in enumerate(daily["time"]):

            def val(key: str, i: int = i) -> Any:
                column = daily.get(key) or []
                return column[i] if i < len(column) else None

            weekday = date.fromisoformat(str(day)).strftime("%a")
            lines.append(
                f"{day} {weekday}: {describe_code(val('weather_code'))},"
                f" max {_num(val('temperature_2m_max'), du.get('temperature_2m_max', ''))}"
                f" / min {_num(val('temperature_2m_min'), du.get('temperature_2m_min', ''))},"
                f" precipitation {_num(val('precipitation_sum'), du.get('precipitation_sum', ''))}"
                f" ({_num(val('precipitation_probability_max'), '%')} chance),"
                f" wind up to {_num(val('wind_speed_10m_max'), du.get('wind_speed_10m_max', ''))},"
                f" sunrise {_clock_time(val('sunrise'))}, sunset {_clock_time(val('sunset'))}"
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise ToolFailure(f"Open-Meteo sent a malformed forecast (missing or bad {exc})") from exc
    return "\n".join(lines)


@tool("weather", parse_docstring=True, response_format="content_and_artifact")
@failures_as_messages
def weather(location: str, days: int = 3, runtime: Runtime = None) -> tuple[str, Artifact]:
    """Get the current weather and a daily forecast for a place (Open-Meteo).

    The reply names the place it found; if it is the wrong one, ask again with
    "City, Country" (for example "Santiago, Chile" or "Santiago, Spain").

    Args:
        location: A place name, best as "City, Country" (for example "Limerick, Ireland").
        days: Number of forecast days, today included (1 to 16).
    """
    settings = settings_of(runtime)
    note = ""
    if days < 1 or days > MAX_DAYS:
        clamped = min(max(days, 1), MAX_DAYS)
        note = (
            f"\n(Asked for {days} days; Open-Meteo forecasts 1 to {MAX_DAYS},"
            f" so showing {clamped}.)"
        )
        days = clamped
    place, others, geo_url, geo_note = geocode(location, settings)
    if geo_note:
        note = f"\n{geo_note}{note}"
    params: dict[str, Any] = {
        "latitude": place["latitude"],
        "longitude": place["longitude"],
        "current": CURRENT,
        "daily": DAILY,
        "timezone": "auto",
        "forecast_days": days,
        **UNITS[settings.units],
    }
    data, url = _get_json(f"{settings.open_meteo_url.rstrip('/')}/v1/forecast", params, settings)
    text = format_forecast(place, others, data)
    if note:
        first, _, rest = text.partition("\n")
        text = f"{first}{note}\n{rest}"
    label = _label(place)
    sources: list[Source] = [
        source(url, f"Open-Meteo forecast for {label}"),
        source(geo_url, f"Open-Meteo geocoding for {location.strip()!r}"),
    ]
    return text, {"sources": sources}
