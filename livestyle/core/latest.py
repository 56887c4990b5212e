"""LatestBox: the one-slot hand-over between threads (capture → inference → display, detector → faces)."""
from __future__ import annotations

import threading


class LatestBox:
    """A one-slot hand-over: put() replaces what is there (counting it dropped), take() empties it."""

    def __init__(self):
        self._condition = threading.Condition()
        self._item = None
        self._closed = False
        self.puts = 0
        self.dropped = 0

    def put(self, item) -> bool:
        """Store the newest item; True when an unconsumed one was replaced (and counted as dropped)."""
        with self._condition:
            replaced = self._item is not None
            if replaced:
                self.dropped += 1
            self._item = item
            self.puts += 1
            self._condition.notify_all()
            return replaced

    def take(self, timeout: float | None = 0.0):
        """The newest item (and the slot is empty again), or None after `timeout` seconds (0: don't wait)."""
        with self._condition:
            if self._item is None and not self._closed and (timeout is None or timeout > 0):
                self._condition.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
