"""RFC 3339 timestamps as the Kubernetes API and Argo write them, read strictly into aware UTC datetimes.

The API server writes ``2024-05-01T12:00:00Z``; Argo and other tools add fractions of a
second (up to nanoseconds) or numeric offsets; the older GC read only the first form.
``datetime.fromisoformat`` accepts these only from Python 3.11 on and also accepts
non-RFC forms (week dates, no separator), so the grammar is spelled out here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})"
    r"(?:\.(?P<fraction>\d+))?(?P<offset>[Zz]|[+-]\d{2}:\d{2})$")


def parse_rfc3339(text: object) -> datetime | None:
    """``text`` as an aware UTC datetime, or ``None`` if it is not an RFC 3339 date-time.

    Fractions beyond microseconds are truncated; a leap second (``:60``) reads as ``:59``.
    """
    if not isinstance(text, str) or not (match := _RFC3339.match(text.strip())):
        return None
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    try:
        moment = datetime.fromisoformat(f"{match['date']}T{match['hour']}:{match['minute']}:"
                                        f"{min(int(match['second']), 59):02d}.{fraction}")
    except ValueError:
        return None
    offset = match["offset"]
    if offset in ("Z", "z"):
        zone = UTC
    else:
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            return None
        sign = -1 if offset[0] == "-" else 1
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return moment.replace(tzinfo=zone).astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before datetime.min in UTC
        return None


def format_rfc3339(moment: datetime) -> str:
    """``moment`` in the API server's own form: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339() -> str:
    """The current time in the API server's own form."""
    return format_rfc3339(datetime.now(UTC))
