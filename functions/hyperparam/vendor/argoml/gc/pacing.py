"""A token bucket that paces the requests one GC run makes to the API server.

A run over a big cluster may list thousands of objects and delete hundreds; the API
server (and its priority-and-fairness limits) should see a steady trickle, not a
burst. The clock is injected so that tests check the pacing without sleeping.
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


@dataclass
class TokenBucket:
    """At most ``rate`` requests per second on average, and bursts of up to ``burst``.

    ``burst`` defaults to one second's worth of requests (at least one).
    """

    rate: float
    clock: Clock = field(default_factory=SystemClock)
    burst: float = 0.0
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
        """Block until a request may be made, then spend its token."""
        self._refill()
        if self._tokens < 1:
            wait = (1 - self._tokens) / self.rate
            self.clock.sleep(wait)
            self.waited += wait
            self._refill()
        self._tokens -= 1

    def _refill(self) -> None:
        now = self.clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
