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
                undo: bool = False) -> journal.Outcome:
    progress = Progress(total, "undo" if undo else "rename")
    try:
        outcome = (journal.undo if undo else journal.resume)(lib, run_id, progress.update)
    except KeyboardInterrupt:
        raise UserError(
            "interrupted; no file is lost. Run `beet similar-order --resume` to "
            "finish or `beet similar-undo` to put every file back") from None
    finally:
        progress.close()
    for error in outcome.errors:
        plugin._log.warning("{}", error)
    return outcome


def _files(final) -> str:
    """``12 files``, or ``12 photos (20 files)`` when companions move too."""
    photos = len({s.key for s in final})
    return f"{photos} files" if photos == len(final) else f"{photos} photos ({len(final)} files)"


def start_run(plugin: SimilarPlugin, lib: Library, kind: str, steps,
              before=lambda: None) -> tuple[int, set[int]]:
    """Journal a run; a photo whose file is missing is reported and left
    out. Returns (run id, ids of the photos left out)."""
    run_id, problems = journal.start(lib, kind, steps, before)
    for problem in problems.values():
        plugin._log.warning("{}", problem)
    return run_id, set(problems)


def check_no_unfinished(lib: Library) -> None:
    run_id = journal.unfinished(lib)
    if run_id is not None:
        raise UserError(
            f"rename run {run_id} was interrupted; run `beet similar-order --resume` "
            "to finish it or `beet similar-undo` to roll it back first")


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
    run_id, _ = start_run(plugin, lib, kind, steps, before)
    outcome = run_journal(plugin, lib, run_id, len(steps))
    if outcome.errors:
        ui.print_(f"run {run_id}: {len(outcome.errors)} renames failed (see above); "
                  "no file was lost: `beet similar-undo` puts every file back")
    else:
        ui.print_(f"renamed {_files(final)} (run {run_id}); `beet similar-undo` reverts")
