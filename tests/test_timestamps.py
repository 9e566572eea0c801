"""RFC 3339 as the API server, Argo and other tools write it (the older GC read only one form)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from argoml.timestamps import format_rfc3339, parse_rfc3339

NOON = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("2024-05-01T12:00:00Z", NOON),
    ("2024-05-01t12:00:00z", NOON),
    ("2024-05-01T12:00:00.5Z", NOON.replace(microsecond=500000)),
    ("2024-05-01T12:00:00.123456789Z", NOON.replace(microsecond=123456)),
    ("2024-05-01T14:00:00+02:00", NOON),
    ("2024-05-01T06:30:00.25-05:30", NOON.replace(microsecond=250000)),
    ("2024-05-01T12:00:00+00:00", NOON),
    ("2024-05-01 12:00:00Z", NOON),
    ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)),
])
def test_reads_every_rfc3339_form_into_utc(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)
    assert parsed == expected and parsed.tzinfo == UTC


@pytest.mark.parametrize("text", ["", "2024-05-01", "2024-05-01T12:00:00", "2024-05-01T12:00Z", "20240501T120000Z",
                                  "2024-13-01T12:00:00Z", "2024-05-01T12:00:00+25:00", "yesterday", None, 1714564800])
def test_anything_else_is_unreadable_rather_than_guessed(text: object) -> None:
    assert parse_rfc3339(text) is None


def test_formats_as_the_api_server_does() -> None:
    assert format_rfc3339(NOON.replace(microsecond=999)) == "2024-05-01T12:00:00Z"
    assert parse_rfc3339(format_rfc3339(NOON)) == NOON
