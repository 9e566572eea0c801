"""The local stand-in for Knative's PingSource: POST a fixed payload on a cron schedule."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from argoml.dev import knative
from argoml.dev.background import Loop
from argoml.dev.delivery import Delivery, deliver

log = logging.getLogger("argoml.dev.ticker")


@dataclass
class Ticker:
    schedule: str  # five-field cron, as PingSource's spec.schedule
    data: Any  # PingSource's spec.data
    sink: str
    name: str = "gc"
    namespace: str = "default"
    deliveries: list[Delivery] = field(default_factory=list)
    _loop: Loop | None = None

    def start(self) -> Ticker:
        from croniter import croniter

        if not croniter.is_valid(self.schedule):
            raise ValueError(f"invalid cron schedule {self.schedule!r}")
        self._loop = Loop(f"ticker-{self.name}", self._run).start()
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()

    def tick(self) -> Delivery:
        """Send one event now, as the PingSource would at its next scheduled time."""
        headers, body = knative.ping_event(self.data, namespace=self.namespace, name=self.name)
        delivery = deliver(self.sink, headers, body)
        log.info("ping %s/%s -> %s", self.namespace, self.name, delivery.status)
        self.deliveries.append(delivery)
        return delivery

    def _run(self, stopping: threading.Event) -> None:
        from croniter import croniter

        times = croniter(self.schedule, datetime.now(UTC))
        while not stopping.is_set():
            due = times.get_next(float)
            if stopping.wait(max(0.0, due - time.time())):
                return
            self.tick()
