"""The background loop a local stand-in runs in (the PingSource ticker, the Argo player).

A loop gets the event that says "stop" and is expected to return soon after it is set;
:meth:`Loop.stop` sets it and waits a little for the thread, which is a daemon, so a stuck
loop never holds the process up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Loop:
    """``body(stopping)`` in a daemon thread named ``name``, from :meth:`start` until :meth:`stop`."""

    def __init__(self, name: str, body: Callable[[threading.Event], None]) -> None:
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=body, args=(self.stopping,), daemon=True, name=name)

    def start(self) -> Loop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
