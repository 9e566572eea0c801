"""A token bucket that paces the requests one GC run makes to the API server.

A run over a big cluster may list thousands of objects and delete hundreds; the API
server (and its priority-and-fairness limits) should see a steady trickle, not a
burst. A run also has a deadline (``maxRunSeconds``): the bucket never sleeps past it,
it raises :class:`DeadlineReached` instead, so that a low rate cannot pin a pod for
longer than the run may last. The clock is injected so that tests check the pacing
without sleeping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class DeadlineReached(Exception):
    """The next request would have to wait past the run's deadline."""


@dataclass
class TokenBucket:
    """At most ``rate`` requests per second on average, and bursts of up to ``burst``.

    ``burst`` defaults to one second's worth of requests (at least one). ``deadline`` (on
    the clock's monotonic time; ``None`` for none) is when waiting stops.
    """

    rate: float
    clock: Clock = field(default_factory=SystemClock)
    burst: float = 0.0
    deadline: float | None = None
    waited: float = field(default=0.0, init=False)  # seconds spent waiting for tokens, for the summary
    _tokens: float = field(init=False)
    _last: float = field(init=False)

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        self.burst = self.burst or max(1.0, self.rate)
        self._tokens = self.burst
        self._last = self.clock.monotonic()

    def take(self) -> None:
        """Block until a request may be made, then spend its token; raises DeadlineReached first
        when the deadline has passed or the wait would end after it."""
        self._refill()
        wait = (1 - self._tokens) / self.rate if self._tokens < 1 else 0.0
        if self.deadline is not None and self._last + wait >= self.deadline:
            raise DeadlineReached
        if wait:
            self.clock.sleep(wait)
            self.waited += wait
            self._refill()
        self._tokens -= 1

    def _refill(self) -> None:
        now = self.clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
