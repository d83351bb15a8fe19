"""What the commands print around trash runs: ``--trash`` in
``similar-dupes`` and ``similar-order --copies``, and ``similar-undo`` and
``similar-order --resume`` of a trash run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beets import ui, util
from beets.exceptions import UserError

from ..numbers import count
from ..progress import Progress
from . import job

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def size(n: int) -> str:
    """``2.4 MB``: plain decimals."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _report(plugin: SimilarPlugin, outcome: job.TrashOutcome, lib: Library) -> None:
    for pid, reason in outcome.refused.items():
        plugin._log.warning("{}: not sent to the trash: {}",
                            util.displayable_path(outcome.names[pid]), reason)
    for old, new in outcome.adopted:  # with -v
        plugin._log.debug("kept sidecar {} as {}", util.displayable_path(old),
                         util.displayable_path(new))
    if outcome.adopted:
        n = len(outcome.adopted)
        ui.print_(f"{n} sidecar{'s' * (n != 1)} of photos sent to the trash now belong to "
                  "the photo kept, which had none (renamed to its name; -v lists them)")
    photos = len(outcome.trashed)
    ui.print_(f"sent {photos} photo{'s' * (photos != 1)} ({outcome.files} "
              f"file{'s' * (outcome.files != 1)}, {size(outcome.bytes)}) to the trash"
              + (f"; {len(outcome.refused)} left in place (see above)" if outcome.refused else "")
              + (f" (run {outcome.run_id}); `beet similar-undo` restores them"
                 if photos else ""))
    if outcome.interrupted:
        raise UserError("interrupted; no file is lost. Run `beet similar-order --resume` "
                        "to finish or `beet similar-undo` to put every file back")


def trash(plugin: SimilarPlugin, lib: Library, pairs) -> set[int]:
    """Send the extras of ``pairs`` to the trash; the ids of those sent."""
    progress = Progress(len(pairs), "trash")
    try:
        outcome = job.trash_extras(lib, pairs, on_photo=progress.update)
    finally:
        progress.close()
    _report(plugin, outcome, lib)
    return set(outcome.trashed)


def resume(plugin: SimilarPlugin, lib: Library, run_id: int) -> None:
    progress = Progress(_photos(lib, run_id), "trash")
    try:
        outcome = job.resume_run(lib, run_id, on_photo=progress.update)
    finally:
        progress.close()
    _report(plugin, outcome, lib)


def undo(plugin: SimilarPlugin, lib: Library, run_id: int) -> None:
    """``similar-undo`` of a trash run."""
    progress = Progress(_photos(lib, run_id), "undo")
    try:
        outcome = job.undo_run(lib, run_id, on_photo=progress.update)
    finally:
        progress.close()
    for line in outcome.errors:
        plugin._log.warning("{}", line)
    for line in outcome.elsewhere:
        ui.print_(line)
    n = len(outcome.restored)
    ui.print_(f"undid run {run_id} (trash): {outcome.files} file"
              f"{'s' * (outcome.files != 1)} back from the trash, {n} photo"
              f"{'s' * (n != 1)} back in the library"
              + (f"; {count(len(outcome.errors), 'problem')} (see above)"
                 if outcome.errors else ""))
    if outcome.interrupted:
        raise UserError("interrupted; no file is lost. Run `beet similar-undo` again to "
                        "put back the rest")


def _photos(lib: Library, run_id: int) -> int:
    """How many photos the run sends to the trash (for the progress line)."""
    return sum(role == "extra" for _, role in job.store.load(lib, run_id))


def is_trash(lib: Library, run_id: int) -> bool:
    """Whether the run is a trash run (resumed and undone here)."""
    found = job.runs.started(lib, run_id)
    return found is not None and found[0] == job.runs.KIND
