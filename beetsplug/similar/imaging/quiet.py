"""Keep LibRaw's own messages off the terminal, and hand them to us.

LibRaw (C++) prints problems straight to the process's standard error
(``IMG_1.DNG: Unexpected end of file``), which rawpy cannot turn off.
While any thread is in LibRaw, file descriptor 2 goes to a temporary
file; when a call ends, the lines LibRaw wrote about the files being read
are given to their callers (who turn them into one line of ours) and every
other line goes on to the real standard error. Pure: the standard library.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active: dict[str, int] = {}  # path -> calls in LibRaw now
_said: dict[str, list[str]] = {}  # path -> LibRaw's messages so far
_state: dict = {}  # saved: the real fd 2; capture: the temp file; pos; partial


def _start() -> None:
    for stream in (sys.stderr, sys.__stderr__):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
    capture = tempfile.TemporaryFile()
    _state.update(saved=os.dup(2), capture=capture, pos=0, partial=b"")
    os.dup2(capture.fileno(), 2)


def _drain(final: bool) -> None:
    """Pass what others wrote to the real stderr; keep LibRaw's lines."""
    capture = _state["capture"]
    data = _state["partial"] + os.pread(capture.fileno(), 1 << 24, _state["pos"])
    _state["pos"] += len(data) - len(_state["partial"])
    lines = data.split(b"\n")
    _state["partial"] = b"" if final else lines.pop()
    out = []
    for line in lines:
        text = os.fsdecode(line)
        owner = next((p for p in _said if text.startswith(f"{p}: ")), None)
        if owner is not None:
            _said[owner].append(text[len(owner) + 2:].strip())
        elif line:
            out.append(line + b"\n")
    if final and _state["partial"]:
        out.append(_state["partial"])
    if out:
        os.write(_state["saved"], b"".join(out))


def _stop() -> None:
    os.dup2(_state["saved"], 2)  # first, then pass on what came meanwhile
    _drain(final=True)
    os.close(_state["saved"])
    _state["capture"].close()
    _state.clear()


@contextmanager
def libraw(path: str) -> Iterator[list[str]]:
    """Run LibRaw on ``path`` silently; the list yielded holds, after the
    block, what LibRaw said about the file (``Unexpected end of file``)."""
    said: list[str] = []
    with _lock:
        if not _active:
            _start()
        _active[path] = _active.get(path, 0) + 1
        _said.setdefault(path, [])
    try:
        yield said
    finally:
        with _lock:
            last = len(_active) == 1 and _active[path] == 1
            if last:
                _stop()
            else:
                _drain(final=False)
            said += _said[path]
            _said[path] = []
            _active[path] -= 1
            if not _active[path]:
                del _active[path], _said[path]
