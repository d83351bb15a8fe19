"""The private file that opens the review in a browser, as Jupyter does:
the review's address with its token is written in a file only the user
can read (0600, in a 0700 folder of its own, removed when the review
stops), and the browser is given that file's name, so the token never
appears on a command line that ``ps`` shows to every user."""

from __future__ import annotations

import html
import os
import shutil
import tempfile
from pathlib import Path


class LaunchFile:
    """``with LaunchFile(url) as launch:`` ``launch.uri`` is ``file:///...``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.folder: str | None = None
        self.path: Path | None = None

    def __enter__(self) -> LaunchFile:
        runtime = os.environ.get("XDG_RUNTIME_DIR")  # private to the user, in memory
        where = runtime if runtime and os.path.isdir(runtime) else None
        self.folder = tempfile.mkdtemp(prefix="similar-review-", dir=where)  # 0700
        self.path = Path(self.folder) / "review.html"
        shown = html.escape(self.url, quote=True)
        page = ('<!DOCTYPE html><meta charset="utf-8"><meta name="referrer" '
                f'content="no-referrer"><meta http-equiv="refresh" content="0; url={shown}">'
                f'<title>beets-similar review</title><a href="{shown}">open the review</a>\n')
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        return self

    @property
    def uri(self) -> str:
        return self.path.as_uri()

    def __exit__(self, *exc) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
