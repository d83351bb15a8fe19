"""Running journaled renames for the commands: progress, interruption,
the dry-run listing and the summary line."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from beets import ui, util
from beets.exceptions import UserError

from ..library import companions
from ..progress import Progress
from ..rename import journal, live, names

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


def run_journal(plugin: SimilarPlugin, lib: Library, run_id: int, total: int,
                undo: bool = False, fresh: bool = False) -> journal.Outcome:
    """Walk a run (``fresh``: just journaled) forwards, or back with ``undo``."""
    progress = Progress(total, "undo" if undo else "rename")
    try:
        outcome = (journal.undo(lib, run_id, progress.update) if undo else
                   journal.resume(lib, run_id, progress.update, fresh))
    except KeyboardInterrupt:
        raise UserError(
            "interrupted; no file is lost. Run `beet similar-undo` again to finish "
            "putting the files back" if undo else
            "interrupted; no file is lost. Run `beet similar-order --resume` to "
            "finish or `beet similar-undo` to put every file back") from None
    finally:
        progress.close()
    for line in outcome.skipped + outcome.errors:
        plugin._log.warning("{}", line)
    return outcome


def _files(moves) -> str:
    """``12 photos``, or ``12 photos (8 companion files)`` when companions
    move too (``moves``: ((photo id, part), ...) pairs): the words of
    :meth:`journal.Outcome.counted`."""
    photos = len({key for (key, _), _ in moves})
    others = sum(1 for (_, part), _ in moves if part)
    return (f"{photos} photo{'s' * (photos != 1)}"
            + (f" ({others} companion file{'s' * (others != 1)})" if others else ""))


def start_run(plugin: SimilarPlugin, lib: Library, kind: str, steps,
              before=lambda: None) -> tuple[int, set[int]]:
    """Journal a run; a photo whose file is missing is reported and left
    out. Returns (run id, ids of the photos left out)."""
    run_id, problems = journal.start(lib, kind, steps, before)
    for problem in problems.values():
        plugin._log.warning("{}", problem)
    return run_id, set(problems)


def check_no_unfinished(lib: Library) -> None:
    """Refuse to change files or rows while a run is in progress or
    unfinished: its photos are half way between their names."""
    line = journal.unfinished_line(lib, then=" first")
    if line is not None:
        raise UserError(line)


def say_unfinished(plugin: SimilarPlugin, lib: Library) -> None:
    """For the commands that only read: one line first, when a run is in
    progress or unfinished (its photos are half way between their names)."""
    line = journal.unfinished_line(lib)
    if line is not None:
        plugin._log.warning("{}", line)


@contextmanager
def changing(lib: Library) -> Iterator[None]:
    """Hold the run lock (see :mod:`rename.live`) while checking again that
    no run is unfinished and changing files, so that no other process
    starts a run meanwhile."""
    with live.holding(lib):
        check_no_unfinished(lib)
        yield


def rename(plugin: SimilarPlugin, lib: Library, kind: str, ranked, fmt: str | None,
           dry_run: bool, before=lambda: None) -> None:
    """Give each ``(photo, rank)`` its templated name (its imported name
    when ``fmt`` is None), journaled; ``before`` runs in the transaction
    that writes the plan (to store the ranks)."""
    def taken(key, name: str, instead: str) -> None:
        plugin._log.warning("{} is taken by a file outside the library; named {} instead "
                            "(and its companions alike)", util.displayable_path(name),
                            util.displayable_path(os.path.basename(instead)))

    steps = names.rename_steps(ranked, fmt, lib.replacements,
                               companions.of(lib, [p.id for p, _ in ranked]),
                               on_taken=taken)
    if not steps:
        if not dry_run:
            with lib.transaction():
                before()
        ui.print_("every file already has its name; nothing to rename")
        return
    if dry_run:
        rank = {photo.id: i for i, (photo, _) in enumerate(ranked)}
        moves = sorted(_moves(steps).items(), key=lambda m: (rank[m[0][0]], m[0][1]))
        for _, (src, dst) in moves:
            ui.print_(f"{util.displayable_path(src)} -> "
                      f"{util.displayable_path(os.path.basename(dst))}")
        ui.print_(f"dry run: {_files(moves)} would be renamed; nothing changed")
        return
    with changing(lib):
        run_id, left_out = start_run(plugin, lib, kind, steps, before)
        outcome = run_journal(plugin, lib, run_id, len(steps), fresh=True)
    not_done = len(outcome.failed | left_out)
    ui.print_((f"renamed {outcome.counted()} (run {run_id})" if outcome.photos() else
               "renamed nothing")
              + (f"; {not_done} not renamed (see above), no file was lost"
                 if not_done else "")
              + ("; `beet similar-undo` reverts" if outcome.photos() else ""))


def _moves(steps) -> dict[tuple[int, int], tuple[str, str]]:
    """{(photo id, part): (where the file is, where it goes)}: a file's
    first and last steps."""
    out: dict[tuple[int, int], tuple[str, str]] = {}
    for s in steps:
        out[s.key, s.part] = (out.get((s.key, s.part), (s.src,))[0], s.dst)
    return out
