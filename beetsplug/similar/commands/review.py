"""``beet similar-review [QUERY]``: go through the duplicate groups in a
local web page, one group at a time, keyboard first."""

from __future__ import annotations

import signal
import threading
import time
import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import TYPE_CHECKING

from beets import ui
from beets.exceptions import UserError

from .. import interrupts
from ..dupes.kinds import KINDS
from ..review import groups
from ..review.fields import size_text
from ..review.launch import LaunchFile
from ..review.session import Review
from ..verify.config import near_check
from . import settings
from .dupes import _kinds

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def open_review(plugin: SimilarPlugin, lib: Library, args, kind: str | None = None,
                threshold: float | None = None) -> Review:
    """The review of the groups of ``kind`` (``--kind``) among the photos
    matching ``args``, as ``similar-dupes`` finds them."""
    kinds = _kinds(SimpleNamespace(exact=False, kind=kind)) or KINDS
    keeper = settings.keeper(plugin)
    chosen = settings.feature_settings(plugin, lib)
    near = any(k != "exact" for k in kinds)
    opts = SimpleNamespace(threshold=threshold)
    key = settings.settings_key(chosen)
    limit = settings.threshold(plugin, lib, opts, chosen) if near else 0.0
    copy_distance = settings.copy_distance(plugin, lib, chosen) if near else None
    check = near_check(plugin, lib, opts, chosen) if near else None
    found = groups.find(lib, args, plugin.config["sort"].as_str(), kinds, key, limit,
                        copy_distance, settings.burst_gap(plugin), check)
    return Review(lib, found, groups.Settings(keeper, settings.formats(plugin),
                                              plugin.config["dupes_folder"].as_str(), key,
                                              limit, copy_distance, check))


def run(plugin: SimilarPlugin, lib: Library, opts, args: list[str]) -> None:
    if opts.port is not None and not 0 <= opts.port <= 65535:
        raise UserError(f"--port {opts.port}: use a port from 1 to 65535 (0: a free one)")
    review = open_review(plugin, lib, args, opts.kind, opts.threshold)
    if not review.groups:
        ui.print_("no groups to review: every group of these photos is decided, or "
                  "there are none")
        return
    from ..review.server import HOST, Server, create_app, new_token  # Flask: only here

    token = new_token()
    try:
        server = Server(create_app(review, token), opts.port or 0)
    except OSError as exc:
        raise UserError(f"cannot listen on {HOST}:{opts.port}: {exc.strerror}; "
                        "choose another --port") from None
    # The token goes to a private file, never on a command line or a terminal.
    with LaunchFile(f"{server.address}?token={token}") as launch:
        ui.print_(f"{'opening' if not opts.no_browser else 'open'} {launch.uri} in a browser "
                  f"(only you can read it; it leads to the review at {server.address})")
        ui.print_(f"{len(review.groups)} groups to review, from group {review.start + 1}; "
                  "Ctrl-C stops the review (every decision is already saved)")
        # Ctrl-C at any moment from here stops the review the same way, and
        # so do `kill` and a closed terminal (the launch file is removed).
        with _stopped_by(signal.SIGTERM, signal.SIGHUP):
            try:
                with interrupts.deferred():  # a thread half started cannot be stopped
                    server.start()
                if not opts.no_browser:
                    webbrowser.open(launch.uri)
                while server.thread.is_alive():
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
            with review.lock:  # an action under way finishes first
                server.stop()
    state = review.state()
    ui.print_(f"review stopped: {state['resolved']} groups resolved, "
              f"{state['freed_files']} files ({size_text(state['freed_bytes'])}) to the "
              f"trash, {state['moved_files']} files moved; `beet similar-undo` reverses "
              "the last run")


@contextmanager
def _stopped_by(*signums: int) -> Iterator[None]:
    """Within the block, these signals stop the review as Ctrl-C does."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, stop) for s in signums}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def command(plugin: SimilarPlugin) -> ui.Subcommand:
    cmd = ui.Subcommand("similar-review",
                        help="go through the duplicate groups in a local web page")
    p = cmd.parser
    p.usage += " [QUERY]"
    p.add_option("-k", "--kind", metavar="KINDS",
                 help="exact, copy, burst, similar (near: the last three), comma-separated: "
                      "the groups to review (default: all)")
    p.add_option("-t", "--threshold", type="float",
                 help="cosine distance under which photos are near-duplicates "
                      "(default: similar.threshold)")
    p.add_option("-p", "--port", type="int", help="port on 127.0.0.1 (default: a free one)")
    p.add_option("--no-browser", action="store_true", default=False,
                 help="only print the private file that opens the review; do not open "
                      "a browser")
    cmd.func = lambda lib, opts, args: run(plugin, lib, opts, args)
    return cmd
