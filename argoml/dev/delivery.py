"""Deliver an event to a sink the way Knative's dispatcher does.

Knative retries on network errors and on 5xx, 404, 408, 409 and 429 answers, with
exponential backoff, and treats any other answer as final. The local bridge and
ticker deliver through here so that a function behaves locally as it would behind
a real ApiServerSource or PingSource.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

log = logging.getLogger("argoml.dev.delivery")

RETRIED_STATUSES = frozenset({404, 408, 409, 429})


@dataclass(frozen=True)
class Delivery:
    status: int  # 0 when the sink could not be reached at all
    body: bytes
    attempts: int


def deliver(sink: str, headers: dict[str, str], body: bytes, *, retries: int = 3,
            backoff: float = 0.2, timeout: float = 30.0) -> Delivery:
    """POST one event; retry as Knative would; return the last answer."""
    status, answer, attempt = 0, b"", 0
    for attempt in range(1, retries + 2):
        request = urllib.request.Request(sink, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, answer = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read()
        except urllib.error.URLError as exc:  # refused, unknown host, timed out: why, in a few words
            status, answer = 0, str(getattr(exc.reason, "strerror", None) or exc.reason).lower().encode()
        except OSError as exc:
            status, answer = 0, str(exc.strerror or exc).lower().encode()
        if not is_retried(status):
            break
        if attempt <= retries:
            log.info("delivery to %s answered %s; retrying", sink, status or "nothing")
            time.sleep(backoff * 2 ** (attempt - 1))
    return Delivery(status, answer, attempt)


def is_retried(status: int) -> bool:
    return status == 0 or status >= 500 or status in RETRIED_STATUSES
