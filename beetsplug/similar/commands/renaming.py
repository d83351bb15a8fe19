"""Running journaled renames for the commands: progress, interruption,
the dry-run listing and the summary line."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from beets import ui, util
from beets.exceptions import UserError

from ..library import companions
from ..progress import Progress
from ..rename import journal, names

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


def _files(final) -> str:
    """``12 photos``, or ``12 photos (8 companion files)`` when companions
    move too: the words of :meth:`journal.Outcome.counted`."""
    photos = len({s.key for s in final})
    others = sum(1 for s in final if s.part)
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


def finishing_command(lib: Library) -> tuple[int, str] | None:
    """(run id, the command that finishes it) for an interrupted run."""
    found = journal.interrupted(lib)
    if found is None:
        return None
    run_id, state = found
    if state == "undoing":
        return run_id, (f"the undo of run {run_id} was interrupted; run `beet similar-undo` "
                        "to finish putting its files back")
    kind = {"trash": "trash", "move-copies": "move"}.get(journal.kind_of(lib, run_id), "rename")
    return run_id, (f"{kind} run {run_id} was interrupted; run `beet similar-order --resume` "
                    "to finish it or `beet similar-undo` to roll it back")


def check_no_unfinished(lib: Library) -> None:
    """Refuse to change files or rows while a run is unfinished: its photos
    may sit under temporary names."""
    found = finishing_command(lib)
    if found is not None:
        raise UserError(f"{found[1]} first")


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
    final = steps[len(steps) // 2:]  # second halves: temp name -> target
    if not steps:
        if not dry_run:
            with lib.transaction():
                before()
        ui.print_("every file already has its name; nothing to rename")
        return
    if dry_run:
        sources = {(s.key, s.part): s.src for s in steps[: len(steps) // 2]}
        for step in final:
            ui.print_(f"{util.displayable_path(sources[step.key, step.part])} -> "
                      f"{util.displayable_path(os.path.basename(step.dst))}")
        ui.print_(f"dry run: {_files(final)} would be renamed; nothing changed")
        return
    run_id, left_out = start_run(plugin, lib, kind, steps, before)
    outcome = run_journal(plugin, lib, run_id, len(steps), fresh=True)
    not_done = len(outcome.failed | left_out)
    ui.print_(f"renamed {outcome.counted()} (run {run_id})"
              + (f"; {not_done} not renamed (see above), no file was lost"
                 if not_done else "") + "; `beet similar-undo` reverts")
