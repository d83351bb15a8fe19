"""Ctrl-C that waits for a safe point.

A KeyboardInterrupt raised inside beets' ``Transaction.__enter__`` (after
the database lock is taken, before it is recorded) leaves the lock held,
and the next transaction of the process waits for ever. Work that writes
to the library in a loop runs under :func:`deferred`: Ctrl-C only sets a
flag, which the loop checks between steps.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Interrupt:
    """Whether Ctrl-C was pressed while deferred."""

    requested = False

    def consume(self) -> bool:
        """True once if Ctrl-C was pressed; the caller then stops by itself."""
        requested, self.requested = self.requested, False
        return requested

    def check(self) -> None:
        """Raise KeyboardInterrupt now, at a safe point, if Ctrl-C was pressed."""
        if self.requested:
            raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[Interrupt]:
    """Within the block, SIGINT sets ``.requested`` instead of raising; a
    request not acted on is raised as KeyboardInterrupt when the block ends.

    Off the main thread (where signals cannot be caught) it changes nothing.
    """
    state = Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum, frame) -> None:
        state.requested = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)
    state.check()
