"""Ctrl-C that waits for a safe point, and Ctrl-C while ``beet`` starts.

A KeyboardInterrupt raised inside beets' ``Transaction.__enter__`` (after
the database lock is taken, before it is recorded) leaves the lock held,
and the next transaction of the process waits for ever. Work that writes
to the library in a loop runs under :func:`deferred`: Ctrl-C only sets a
flag, which the loop checks between steps. :func:`starting` and
:func:`started` cover the seconds before a command runs.
"""

from __future__ import annotations

import signal
import sys
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


# Ctrl-C while ``beet`` starts (the plugin's imports take seconds): beets
# would end silently with status 0. From the plugin's import until its
# command starts (or, for any other command, the library is open), it
# ends ``beet`` with one line and status 1 instead.
STARTUP_LINE = "error: interrupted before the command started; nothing was changed\n"
_before_startup = None  # the SIGINT handler to give back


def _in_beet_command_line(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "_raw_main" and frame.f_globals.get("__name__") == "beets.ui":
            return True
        frame = frame.f_back
    return False


def _at_startup(signum, frame) -> None:
    if _in_beet_command_line(frame):
        sys.stderr.write(STARTUP_LINE)
        sys.stderr.flush()
        raise SystemExit(1)
    signal.default_int_handler(signum, frame)  # elsewhere (an import in a test): as ever


def starting() -> None:
    """The plugin is being imported: Ctrl-C ends a starting ``beet`` in one
    line until :func:`started`."""
    global _before_startup
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        _before_startup = signal.signal(signal.SIGINT, _at_startup)


def started() -> None:
    """A command starts: Ctrl-C raises KeyboardInterrupt again."""
    global _before_startup
    if _before_startup is not None and threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGINT) is _at_startup:
            signal.signal(signal.SIGINT, _before_startup)
        _before_startup = None
