"""The ``clock`` tool: the current date, weekday, time and UTC offset in a time zone.

Models do not know what day it is; this tells them. Time zones are IANA names
("America/Santiago"), matched case-insensitively, with spaces allowed for
underscores and a bare city accepted when it names exactly one zone ("tokyo" ->
"Asia/Tokyo"). The default is ``settings.timezone``, else the machine's zone.
"""

from __future__ import annotations

import difflib
import functools
import os
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from langchain_core.tools import tool

from ahora.errors import ToolFailure
from ahora.tools._common import Runtime, settings_of

__all__ = ["clock", "now_in", "resolve_timezone"]


@functools.cache
def _zones() -> dict[str, str]:
    """Lower-cased IANA name -> IANA name."""
    return {name.casefold(): name for name in available_timezones()}


@functools.cache
def _cities() -> dict[str, list[str]]:
    """Lower-cased last component ("santiago") -> the zones ending with it."""
    out: dict[str, list[str]] = {}
    for name in sorted(available_timezones(), key=lambda n: (n.count("/"), n)):
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/")):
            out.setdefault(name.rsplit("/", 1)[1].casefold(), []).append(name)
    return out


def resolve_timezone(text: str) -> str:
    """Turn "america/santiago", "America/New York" or "Tokyo" into an IANA name, or raise."""
    wanted = "_".join(text.strip().split()).casefold()
    if not wanted:
        raise ToolFailure('empty time zone; use an IANA name such as "America/Santiago"')
    zones = _zones()
    if wanted in zones:
        return zones[wanted]
    if "/" not in wanted and len(matches := _cities().get(wanted, [])) >= 1:
        return matches[0]
    close = difflib.get_close_matches(wanted, list(zones), n=3, cutoff=0.75)
    hint = f" Did you mean {', '.join(zones[c] for c in close)}?" if close else ""
    raise ToolFailure(
        f'unknown time zone {text!r}; use an IANA name such as "America/Santiago" '
        f'or "Europe/Madrid".{hint}'
    )


def _local_zone() -> tuple[tzinfo, str]:
    """The machine's zone: $TZ or /etc/localtime if they name an IANA zone, else an offset."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if name in _zones().values():
            return ZoneInfo(name), name
    local = datetime.now().astimezone().tzinfo
    assert local is not None
    return local, f"local time ({local.tzname(None) or 'unknown zone'})"


def now_in(timezone: str | None = None, *, default: str | None = None) -> tuple[datetime, str]:
    """The aware current time in ``timezone`` and the zone's label.

    Without ``timezone``: the ``default`` zone (the user's setting), else the machine's.
    """
    if timezone:
        name = resolve_timezone(timezone)
        return datetime.now(ZoneInfo(name)), name
    configured = default
    if configured:
        try:
            name = resolve_timezone(configured)
        except ToolFailure as exc:
            raise ToolFailure(f"the AHORA_TIMEZONE setting is wrong: {exc}") from exc
        return datetime.now(ZoneInfo(name)), name
    zone, label = _local_zone()
    return datetime.now(zone), label


def format_now(now: datetime, label: str) -> str:
    offset = now.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC offset unknown"
    abbrev = now.tzname()
    zone = f"{label} ({offset}" + (f", {abbrev}" if abbrev and abbrev[0] not in "+-" else "") + ")"
    return (
        f"{now:%A %d %B %Y}, {now:%H:%M:%S} in {zone}.\n"
        f"ISO 8601: {now.isoformat(timespec='seconds')}"
    )


@tool("clock", parse_docstring=True)
def clock(timezone: str | None = None, runtime: Runtime = None) -> str:
    """Tell the current date, weekday, time and UTC offset.

    Use it whenever the answer depends on today's date or the time somewhere.

    Args:
        timezone: An IANA time zone such as "America/Santiago" or "Asia/Tokyo";
            leave it out for the user's own time zone.
    """
    try:
        now, label = now_in(timezone, default=settings_of(runtime).timezone)
    except (ToolFailure, ZoneInfoNotFoundError) as exc:
        return f"Error: {exc}"
    return format_now(now, label)
