"""Cron schedules as Argo reads them (robfig/cron's standard parser), with its error wording.

Five fields (minute hour day-of-month month day-of-week) with ``*``, ``?``, ranges, steps,
lists and month/day names; or a descriptor (``@hourly``, ``@every 1h30m``, ...); optionally
prefixed by ``CRON_TZ=<zone>`` or ``TZ=<zone>``.
"""

from __future__ import annotations

import re
import zoneinfo

_DESCRIPTORS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}),
    ("day of week", 0, 6, {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}))
_DURATION = re.compile(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+")


def schedule_error(schedule: str) -> str | None:
    """Why robfig/cron's ``ParseStandard`` would reject ``schedule``; ``None`` when it parses."""
    spec = schedule.strip()
    if not spec:
        return "empty spec string"
    if spec.startswith(("TZ=", "CRON_TZ=")):
        zone, _, spec = spec.partition(" ")
        problem = timezone_error(zone.split("=", 1)[1])
        if problem:
            return f"provided bad location {zone.split('=', 1)[1]}: {problem}"
        spec = spec.strip()
    if spec.startswith("@"):
        if spec.startswith("@every "):
            duration = spec[len("@every "):].strip()
            return None if _DURATION.fullmatch(duration) else f"failed to parse duration {spec}: " \
                f'time: invalid duration "{duration}"'
        return None if spec in _DESCRIPTORS else f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for text, (_, low, high, names) in zip(fields, _FIELDS, strict=True):
        for part in text.split(","):
            problem = _range_error(part, low, high, names)
            if problem:
                return problem
    return None


def _range_error(expr: str, low: int, high: int, names: dict[str, int]) -> str | None:
    range_part, _, step = expr.partition("/")
    if range_part in ("*", "?"):
        start, end = low, high
    else:
        bounds = range_part.split("-")
        if len(bounds) > 2:
            return f"too many hyphens: {expr}"
        values = []
        for bound in bounds:
            value = names.get(bound.lower()) if bound.lower() in names else _int(bound)
            if value is None:
                return f'failed to parse int from {bound}: strconv.Atoi: parsing "{bound}": invalid syntax'
            values.append(value)
        start, end = values[0], values[-1]
    if step:
        if _int(step) is None:
            return f'failed to parse int from {step}: strconv.Atoi: parsing "{step}": invalid syntax'
        if int(step) <= 0:
            return f"step of range should be a positive number: {expr}"
    if start < low:
        return f"beginning of range ({start}) below minimum ({low}): {expr}"
    if end > high:
        return f"end of range ({end}) above maximum ({high}): {expr}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {expr}"
    return None


def is_duration(text: str) -> bool:
    """Whether Go's ``time.ParseDuration`` reads ``text`` (``30s``, ``1h30m``, ``-1.5h``)."""
    return text == "0" or bool(_DURATION.fullmatch(text.lstrip("+-")))


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def timezone_error(zone: str) -> str | None:
    """Why ``zone`` is not an IANA time zone; ``None`` if it is, or if no zone database is installed."""
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory of the database (America)
        try:
            zoneinfo.ZoneInfo("UTC")
        except zoneinfo.ZoneInfoNotFoundError:
            return None  # no tz database here: cannot tell, so do not reject
        return f"unknown time zone {zone}"
    return None
