"""A clock for pacing tests: sleeping only moves its time, and every sleep is recorded."""

from __future__ import annotations


class FakeClock:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    @property
    def slept(self) -> float:
        return sum(self.sleeps)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
