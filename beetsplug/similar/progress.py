"""Progress of long work: a redrawn line with rate and ETA on a terminal;
elsewhere (a log, a pipe), one plain line a minute."""

from __future__ import annotations

import sys
import time

LOG_EVERY = 60.0  # seconds between plain lines when the stream is not a terminal


class Progress:
    """``update(n)`` after each step; ``close()`` at the end."""

    def __init__(self, total: int, label: str, stream=None, clock=time.monotonic) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self.stream = stream or sys.stderr
        self.terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self.start = clock()
        # A terminal draws the first step at once; a log waits a minute.
        self._last_draw = self.start - (1.0 if self.terminal else 0.0)

    @property
    def rate(self) -> float:
        elapsed = self.clock() - self.start
        return self.done / elapsed if elapsed > 0 else 0.0

    def _eta(self) -> str:
        rate = self.rate
        eta = int((self.total - self.done) / rate) if rate > 0 else 0
        return f"{eta // 60}:{eta % 60:02d}"

    def update(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        if self.terminal:
            if now - self._last_draw > 0.2 or self.done >= self.total:
                self._last_draw = now
                width = 30
                filled = int(width * self.done / self.total) if self.total else width
                self.stream.write(
                    f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                    f"{self.done}/{self.total} {self.rate:.1f}/s ETA {self._eta()} ")
                self.stream.flush()
        elif now - self._last_draw >= LOG_EVERY and self.done < self.total:
            self._last_draw = now
            self.stream.write(f"{self.label}: {self.done} of {self.total}, "
                              f"{self.rate:.1f}/s, {self._eta()} left\n")
            self.stream.flush()

    def stage(self, total: int, label: str) -> None:
        """Go on with the next stage of the same work: ``total`` steps under
        ``label``, counted from 0; a log's minute between lines runs on."""
        if self.terminal and self.done:
            self.stream.write("\n")
        self.total, self.label, self.done, self.start = total, label, 0, self.clock()

    def close(self) -> None:
        if self.terminal and self.done:  # a bar was drawn
            self.stream.write("\n")
            self.stream.flush()
