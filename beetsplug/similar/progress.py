"""A one-line progress display with rate and ETA, for terminals only."""

from __future__ import annotations

import sys
import time


class Progress:
    """``update(n)`` after each step; draws only when the stream is a TTY."""

    def __init__(self, total: int, label: str, stream=None) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self._last_draw = 0.0

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._last_draw > 0.2 or self.done >= self.total):
            self._last_draw = now
            rate = self.rate
            eta = (self.total - self.done) / rate if rate > 0 else 0
            width = 30
            filled = int(width * self.done / self.total) if self.total else width
            self.stream.write(
                f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                f"{self.done}/{self.total} {rate:.1f}/s ETA {int(eta) // 60}:{int(eta) % 60:02d} ")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
