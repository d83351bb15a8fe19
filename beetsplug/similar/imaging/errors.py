"""The error every reader raises for a file that cannot be used as a photo."""

from __future__ import annotations


class ImageError(Exception):
    """A file that cannot be used as a photo; ``str()`` is a one-line message."""

    def __init__(self, path: str, problem: str, hint: str = "") -> None:
        self.path = path
        self.problem = problem
        self.hint = hint
        super().__init__(f"{path}: {problem}" + (f" ({hint})" if hint else ""))
