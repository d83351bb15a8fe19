"""Runs that tell the truth (issue 27): a run that moved nothing is not a
run, a copy that fails on a full disk takes no room, an undo cut off
leaves no photo under a temporary name, and the commands that read say
first when a run is unfinished."""

from __future__ import annotations

import errno
import os
import shutil
import signal

import pytest
from beets.exceptions import UserError

from beetsplug.similar.rename import journal, planner

from .conftest import SimilarHelper
from .test_order_command import tree_state
from .test_safety import MODEL, assert_consistent, make, sha
from .test_undo_resume import cut_off


def hidden(root) -> list[str]:
    return [n for _, _, files in os.walk(root) for n in files if n.startswith(".similar-")]


class Library(SimilarHelper):
    """Photos imported, not featurized (no network to build): runs are made
    as similar-order makes them, in path order."""

    def prepare(self, n: int = 4, sidecars: bool = False):
        root = self.photos_dir()
        for i in range(n):
            make(root, f"p_{i:02d}.jpg", 30 + i)
            if sidecars and i % 2:
                (root / f"p_{i:02d}.xmp").write_text(f"edits {i}\n")
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        return root

    def order(self) -> int:
        """A whole order run, journaled and walked as similar-order does it
        (ranks in path order); its id."""
        run_id = cut_off(self.lib)
        self.run_command("similar-order", "--resume")
        return run_id

    def copy_of(self, root, name: str, copy: str) -> None:
        """``copy``, the same bytes as ``name`` and newer: the extra."""
        os.utime(root / name, (1e9, 1e9))
        shutil.copyfile(root / name, root / copy)
        self.run_command("similar-import", str(root))


class TestARunThatMovedNothingIsNotARun(Library):
    """3: --move where every photo fails records no run; undo takes the
    real run before it."""

    def test_move_that_moved_nothing(self, monkeypatch, capsys, caplog):
        root = self.prepare()
        original = tree_state(root)
        self.order()  # run 1: the real one
        self.copy_of(root, os.listdir(root)[0], "zz_copy.jpg")
        real = journal.perform

        def full(src, dst, *args, **kwargs):
            if os.sep + "duplicates" + os.sep in dst:
                raise planner.RenameError(f"{src}: cannot move to {dst}: no room")
            return real(src, dst, *args, **kwargs)

        monkeypatch.setattr(journal, "perform", full)
        out = self.run_output(capsys, "similar-dupes", "-e", "--move")
        assert "moved nothing to 'duplicates'\n" in out and "(run" not in out
        assert any("zz_copy.jpg: cannot move to" in r.getMessage() for r in caplog.records)
        listed = self.run_output(capsys, "similar-undo", "--list")
        assert [line.split(":")[0] for line in listed.splitlines()] == ["run 1"]
        out = self.run_output(capsys, "similar-undo")
        assert "undid run 1 (order): put back 4 photos" in out
        assert {n: h for n, h in tree_state(root).items() if n != "zz_copy.jpg"} == original
        # The empty run's id is never given again (the review page may hold it).
        assert self.order() == 3
        assert journal.moved(self.lib, 2) == 0 and journal.undo(self.lib, 2).photos() == 0

    def test_an_empty_run_of_an_older_version_is_passed_over(self, capsys):
        root = self.prepare()
        self.order()
        with self.lib.transaction() as tx:  # as older versions left it
            tx.mutate("INSERT INTO similar_runs (id, started, kind, state) "
                      "VALUES (2, 0, 'trash', 'done')")
            tx.mutate("INSERT INTO similar_journal (run_id, seq, photo_id, part, src, dst, "
                      "state) VALUES (2, 0, 1, 0, X'2F78', X'', 'skipped')")
        listed = self.run_output(capsys, "similar-undo", "--list").splitlines()
        assert listed[0].endswith("0 photos, done; undo: no (it moved nothing)")
        assert listed[1].endswith("4 photos, done; undo: next")
        out = self.run_output(capsys, "similar-undo")
        assert "undid run 1 (order)" in out
        assert sorted(os.listdir(root)) == [f"p_{i:02d}.jpg" for i in range(4)]


class TestAFullDisk(Library):
    """6: a copy to another disk that fails (a full disk) is removed."""

    def test_move_to_a_full_disk_leaves_no_partial_copy(self, tmp_path, monkeypatch,
                                                        capsys, caplog):
        root = self.prepare(2)
        self.copy_of(root, "p_00.jpg", "zz_copy.jpg")
        far = tmp_path / "far"  # stands for another disk
        far.mkdir()
        self.config["similar"]["dupes_folder"] = str(far)
        before = tree_state(root)
        real_link, real_copy = os.link, shutil.copyfileobj

        def link(src, dst, *args, **kwargs):
            if os.fsdecode(dst).startswith(str(far)) and \
                    not os.fsdecode(src).startswith(str(far)):
                raise OSError(errno.EXDEV, "Invalid cross-device link", src, None, dst)
            return real_link(src, dst, *args, **kwargs)

        def copyfileobj(source, target, length=0):
            target.write(source.read(1000))  # a real partial file, then the disk is full
            target.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "link", link)
        monkeypatch.setattr(shutil, "copyfileobj", copyfileobj)
        out = self.run_output(capsys, "similar-dupes", "-e", "--move")
        assert os.listdir(far) == []  # no .similar-copy-* takes the room
        assert tree_state(root) == before
        assert "moved nothing to" in out
        assert any(f"cannot copy to {far}: No space left on device; not moved"
                   in r.getMessage() for r in caplog.records)
        assert_consistent(self.lib, root)
        with pytest.raises(UserError, match="nothing to undo"):
            self.run_command("similar-undo")
        monkeypatch.setattr(shutil, "copyfileobj", real_copy)  # room again
        out = self.run_output(capsys, "similar-dupes", "-e", "--move")
        assert os.listdir(far) == ["zz_copy.jpg"]
        assert sha(far / "zz_copy.jpg") == before["zz_copy.jpg"]


class TestAnUndoCutOff(Library):
    """10: renames go straight to their names, so an undo cut off leaves no
    photo under a temporary name; the commands say first that it is
    unfinished, and the next similar-undo finishes it."""

    def test_ctrl_c_during_undo(self, monkeypatch, capsys, caplog):
        root = self.prepare(12, sidecars=True)
        original = tree_state(root)
        self.order()
        assert not hidden(root)
        real, calls = journal.perform, []

        def perform(*args, **kwargs):
            calls.append(args)
            if len(calls) == 5:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, at a step
            return real(*args, **kwargs)

        monkeypatch.setattr(journal, "perform", perform)
        with pytest.raises(UserError, match="interrupted; no file is lost. Run `beet "
                                            "similar-undo` again"):
            self.run_command("similar-undo")
        monkeypatch.setattr(journal, "perform", real)
        assert not hidden(root)
        assert sorted(tree_state(root).values()) == sorted(original.values())
        assert_consistent(self.lib, root)
        caplog.clear()
        out = self.run_output(capsys, "similar-ls")
        said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert said == ["the undo of run 1 was interrupted; run `beet similar-undo` to finish "
                        "putting its files back"]
        assert len(out.splitlines()) == 12
        out = self.run_output(capsys, "similar-undo")
        assert out.splitlines()[0] == "finishing the undo of run 1, which was interrupted"
        assert tree_state(root) == original


class TestSaysFirst(Library):
    """10: an interrupted order run is named first by the commands that read."""

    def test_readers_name_an_interrupted_run(self, capsys, caplog):
        root = self.prepare(3)
        run_id = cut_off(self.lib)
        for args in (["similar-ls"], ["similar-dupes", "-e"]):
            caplog.clear()
            self.run_output(capsys, *args)
            assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
                f"rename run {run_id} was interrupted; run `beet similar-order --resume` to "
                "finish it or `beet similar-undo` to roll it back"]
        out = self.run_output(capsys, "similar-undo")
        assert out.splitlines()[0] == f"rolling back run {run_id}, which was interrupted"
        assert sorted(os.listdir(root)) == ["p_00.jpg", "p_01.jpg", "p_02.jpg"]


def test_a_cycle_needs_one_temporary_name_and_a_chain_none(tmp_path):
    for name in "abcd":
        (tmp_path / name).write_text(name)
    at = {n: str(tmp_path / n) for n in "abcdez"}
    # A chain (d -> e, c -> d) and a swap (a <-> b): one hop, for the swap.
    steps = planner.plan([(1, at["a"], at["b"]), (2, at["b"], at["a"]), (3, at["c"], at["d"]),
                          (4, at["d"], at["e"])], "t")
    hops = [s for s in steps if os.path.basename(s.dst).startswith(".similar-")]
    assert len(hops) == 1 and len(steps) == 5
    assert [(s.src, s.dst) for s in steps[:2]] == [(at["d"], at["e"]), (at["c"], at["d"])]
    for s in steps:
        planner.perform(s.src, s.dst)
    assert {n: (tmp_path / n).read_text() for n in sorted(os.listdir(tmp_path))} == {
        "a": "b", "b": "a", "d": "c", "e": "d"}


def test_a_plain_order_renames_straight_to_the_new_names(tmp_path):
    wanted = [(i, str(tmp_path / f"IMG_{i}.jpg"), str(tmp_path / f"{i:04d}-IMG_{i}.jpg"))
              for i in range(50)]
    for _, src, _ in wanted:
        open(src, "w").close()
    steps = planner.plan(wanted, "t")
    assert [(s.src, s.dst) for s in steps] == [(src, dst) for _, src, dst in wanted]
