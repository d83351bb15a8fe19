"""Undo, resume and interrupted runs: undo takes the companions a photo has
now, is itself resumable, skips photos deleted since, works across disks,
and speaks in photos."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest
from beets.exceptions import UserError

from beetsplug.similar import samples
from beetsplug.similar.library import companions
from beetsplug.similar.library.photos import photos
from beetsplug.similar.rename import journal, names

from .conftest import SimilarHelper, featurized_library, run_beet, start_beet, write_config
from .test_order_command import CRASHING_BEET, tree_state
from .test_safety import MODEL, SLOW_BEET, answer, assert_consistent, make, sha


def companion_rows(lib) -> list[str]:
    with lib.transaction() as tx:
        return [os.fsdecode(p) for (p,) in tx.query("SELECT path FROM similar_companions")]


def assert_companions_exist(lib) -> None:
    for path in companion_rows(lib):
        assert os.path.isfile(path), path
        assert not os.path.basename(path).startswith(".similar-"), path


class Library(SimilarHelper):
    def prepare(self, names_, sidecars=()):
        root = self.photos_dir()
        for i, name in enumerate(names_):
            make(root, name, 20 + i)
        for name in sidecars:
            (root / name).write_text(f"edits in {name}\n")
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        return root

    def renamed(self, origname: str) -> str:
        return photos(self.lib, [f"origname:{origname}"]).get().filepath.name


def cut_off(lib) -> int:
    """The state a kill -9 leaves: a journaled order run, one photo renamed
    (the renames go straight to the new names). Returns the run's id."""
    ranked = [(p, i + 1) for i, p in enumerate(photos(lib))]
    steps = names.rename_steps(ranked, "$rankpad-$origname", lib.replacements,
                               companions.of(lib, [p.id for p, _ in ranked]))
    run_id, _ = journal.start(lib, "order", steps)
    first = steps[0]
    os.rename(first.src, first.dst)
    with lib.transaction() as tx:
        tx.mutate("UPDATE similar_photos SET path=? WHERE id=?", (first.dst.encode(), first.key))
    return run_id


class TestUndoTakesCompanionsKnownNow(Library):
    """16.2, 16.5b."""

    def test_sidecar_written_after_the_run_goes_back_with_its_photo(self, caplog):
        root = self.prepare(["img_1.jpg", "img_2.jpg", "img_3.jpg", "img_4.jpg"])
        self.run_command("similar-order")
        stem = os.path.splitext(self.renamed("img_3.jpg"))[0]
        (root / f"{stem}.xmp").write_text("edits written after the order\n")
        self.run_command("similar-import", str(root))
        assert companion_rows(self.lib) == [str(root / f"{stem}.xmp")]
        self.run_command("similar-undo")
        assert sorted(os.listdir(root)) == ["img_1.jpg", "img_2.jpg", "img_3.jpg", "img_3.xmp",
                                            "img_4.jpg"]
        assert (root / "img_3.xmp").read_text() == "edits written after the order\n"
        assert companion_rows(self.lib) == [str(root / "img_3.xmp")]
        assert_consistent(self.lib, root)
        # The sidecar is the photo's again: the next order takes it along.
        self.run_command("similar-order")
        assert os.path.splitext(self.renamed("img_3.jpg"))[0] + ".xmp" in os.listdir(root)
        assert_companions_exist(self.lib)

    def test_jpeg_that_joined_its_raw_is_left_with_it(self, caplog):
        root = self.prepare(["a.jpg", "b.jpg", "c.jpg", "IMG_1.JPG"])
        self.run_command("similar-order")
        self.run_command("similar-order", "--clear")
        samples.save_dng(samples.scene(7, (160, 120)), str(root / "IMG_1.DNG"), seed=7)
        self.run_command("similar-import", str(root))
        assert companion_rows(self.lib) == [str(root / "IMG_1.JPG")]
        self.run_command("similar-undo")  # the --clear: IMG_1.JPG is the DNG's now
        assert any("IMG_1.JPG: now a companion of IMG_1.DNG" in r.getMessage()
                   for r in caplog.records)
        assert (root / "IMG_1.JPG").is_file()
        assert_companions_exist(self.lib)
        assert_consistent(self.lib, root)
        self.run_command("similar-undo")  # the order
        assert sorted(os.listdir(root)) == ["IMG_1.DNG", "IMG_1.JPG", "a.jpg", "b.jpg", "c.jpg"]
        assert_companions_exist(self.lib)
        assert_consistent(self.lib, root)


class TestDeletedIsAKnownFact(Library):
    """16.8: photos deleted since a run are skipped; earlier runs stay undoable."""

    def test_undo_four_times_after_a_delete(self, monkeypatch, capsys, caplog):
        root = self.prepare(["a.jpg", "b.jpg", "c.jpg"])
        (root / "zz_copy.jpg").write_bytes((root / "a.jpg").read_bytes())
        os.utime(root / "a.jpg", (1e9, 1e9))  # older: a.jpg is kept
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        self.run_command("similar-order")
        self.run_command("similar-order", "--clear")
        self.run_command("similar-order")
        answer(monkeypatch, "yes")
        self.run_command("similar-dupes", "-e", "--delete")
        assert len(os.listdir(root)) == 3
        for _ in range(3):
            out = self.run_output(capsys, "similar-undo")
            assert "left as they are" in out and "not put back" not in out
        assert sum(bool(re.search(r"(zz_copy|a)\.jpg: no longer in the library", r.getMessage()))
                   for r in caplog.records) == 3
        assert not any("vanished" in r.getMessage() for r in caplog.records)
        assert sorted(os.listdir(root)) in (["a.jpg", "b.jpg", "c.jpg"],
                                            ["b.jpg", "c.jpg", "zz_copy.jpg"])
        assert_consistent(self.lib, root)
        with pytest.raises(UserError, match="nothing to undo"):
            self.run_command("similar-undo")


class TestNothingChangesWhileARunIsUnfinished(Library):
    """16.6: import, order and the duplicate actions refuse, naming the command
    that finishes the run."""

    def cut_off(self, root):
        return cut_off(self.lib)

    def test_refusals_then_resume(self, capsys):
        root = self.prepare(["a.jpg", "b.jpg", "c.jpg"], ["b.xmp"])
        (root / "a_again.jpg").write_bytes((root / "a.jpg").read_bytes())
        self.run_command("similar-import", str(root))
        run_id = self.cut_off(root)
        finish = rf"run {run_id} was interrupted; run `beet similar-order --resume`"
        for args in (["similar-import", str(root)], ["similar-order"],
                     ["similar-order", "--copies", "move"],
                     ["similar-dupes", "-e", "--move"], ["similar-dupes", "-e", "--tag"],
                     ["similar-dupes", "-e", "--delete"]):
            with pytest.raises(UserError, match=finish):
                self.run_command(*args)
        out = self.run_output(capsys, "similar-order", "--resume")
        # The photo renamed before the kill is not counted again.
        assert f"resumed run {run_id}: renamed 3 photos (1 companion file)" in out
        out = self.run_output(capsys, "similar-import", str(root))
        assert "imported 0 new" in out
        assert len(photos(self.lib)) == 4
        assert_consistent(self.lib, root)
        assert_companions_exist(self.lib)

    def test_an_interrupted_undo_is_named(self, capsys):
        root = self.prepare(["a.jpg", "b.jpg"])
        run_id = self.cut_off(root)
        with self.lib.transaction() as tx:
            tx.mutate("UPDATE similar_runs SET state='undoing' WHERE id=?", (run_id,))
        for args in (["similar-import", str(root)], ["similar-order"],
                     ["similar-dupes", "-e", "--move"], ["similar-order", "--resume"]):
            with pytest.raises(UserError, match=r"`beet similar-undo` to finish"):
                self.run_command(*args)
        out = self.run_output(capsys, "similar-undo")
        assert "put back 1 photo" in out
        assert sorted(os.listdir(root)) == ["a.jpg", "b.jpg"]
        assert_consistent(self.lib, root)


class TestCountsAndNames(Library):
    """16.14, 19.4, 19.9: counts of what happened, real names, undo's scope."""

    def test_a_photo_left_out_is_not_counted(self, capsys, caplog):
        root = self.prepare(["a.jpg", "b.jpg", "c.jpg", "d.jpg"], ["a.xmp"])
        os.remove(root / "d.jpg")
        out = self.run_output(capsys, "similar-order")
        assert re.search(r"chain length \d+\.\d+(?![\de])", out), out
        assert "renamed 3 photos (1 companion file) (run 1); 1 not renamed" in out
        out = self.run_output(capsys, "similar-undo")
        assert "undid run 1 (order): put back 3 photos (1 companion file)" in out
        assert "steps" not in out

    def test_errors_name_the_photo_not_a_temporary_file(self, monkeypatch, caplog):
        root = self.prepare(["a.jpg", "b.jpg", "c.jpg"])
        real_perform, squatted = journal.perform, []

        def perform(src, dst, *args):
            if not os.path.basename(dst).startswith(".similar-") and not squatted:
                squatted.append(dst)
                open(dst, "w").write("someone else's")
            return real_perform(src, dst, *args)

        monkeypatch.setattr(journal, "perform", perform)
        self.run_command("similar-order")
        warnings = [r.getMessage() for r in caplog.records if "already exists" in r.getMessage()]
        assert warnings and not any(".similar-" in w for w in warnings)
        assert any(re.search(r"not overwriting it with \S*/[a-c]\.jpg", w) for w in warnings)

    def test_a_folder_copied_back_from_a_backup_is_pointed_to_clear(self, capsys):
        root = self.prepare(["a.jpg", "b.jpg"])
        backup = root.parent / "backup"
        self.run_command("similar-order")
        shutil.copytree(root, backup)
        shutil.rmtree(root)
        shutil.copytree(backup, root)  # the same names and bytes, new files
        out = self.run_output(capsys, "similar-undo")
        assert "not put back" in out
        assert "`beet similar-order --clear` gives the photos their imported names back" \
            in out
        self.run_command("similar-order", "--clear")
        assert sorted(os.listdir(root)) == ["a.jpg", "b.jpg"]

    def test_undo_list_and_help(self, capsys):
        root = self.prepare(["a.jpg", "b.jpg"])
        self.run_command("similar-order")
        self.run_command("similar-order", "--clear")
        out = self.run_output(capsys, "similar-undo", "--list")
        lines = out.splitlines()
        assert re.match(r"run 2: \d{4}-\d\d-\d\d \d\d:\d\d, order --clear, 2 photos, done; "
                        r"undo: next$", lines[0])
        assert re.match(r"run 1: .*, order, 2 photos, done; undo: yes, after the runs above",
                        lines[1])
        self.run_command("similar-undo")
        out = self.run_output(capsys, "similar-undo", "--list")
        assert "run 2:" in out and "undone; undo: no (undone)" in out
        out = self.run_output(capsys, "help", "similar-undo")
        out = " ".join(out.split())
        for words in ("similar-order renames and --clear", "--copies move",
                      "similar-dupes --move", "trash", "again to go back one more run",
                      "--list"):
            assert words in out
        self.run_command("similar-undo")  # run 1 too
        assert sorted(os.listdir(root)) == ["a.jpg", "b.jpg"]


@pytest.fixture
def far():
    """An empty folder on /dev/shm, removed afterwards."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("needs /dev/shm, another filesystem than the test folder")
    folder = tempfile.mkdtemp(prefix="similar-test-", dir="/dev/shm")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def skip_if_same_disk(folder, root) -> None:
    if os.stat(folder).st_dev == os.stat(root).st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the test folder")


class TestAcrossDisks(SimilarHelper):
    """16.11: a duplicates folder on another filesystem."""

    def prepare(self, far):
        root = self.photos_dir()
        for i, name in enumerate(("a.jpg", "b.jpg")):
            make(root, name, i + 1)
        (root / "copy.jpg").write_bytes((root / "a.jpg").read_bytes())
        (root / "a.xmp").write_text("edits of a\n")
        (root / "copy.xmp").write_text("edits of the copy\n")
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        skip_if_same_disk(far, root)
        self.config["similar"]["dupes_folder"] = far
        return root

    def test_move_to_another_disk_and_back(self, capsys, far):
        root = self.prepare(far)
        before = tree_state(root)
        out = self.run_output(capsys, "similar-dupes", "-e", "--move")
        assert "moved 1 exact copy" in out and "brings them back" in out
        gone = sorted(os.listdir(far))  # the extra and its sidecar, whichever it is
        assert gone in (["a.jpg", "a.xmp"], ["copy.jpg", "copy.xmp"])
        assert sorted(os.listdir(root)) == sorted({"a.jpg", "a.xmp", "b.jpg", "copy.jpg",
                                                   "copy.xmp"} - set(gone))
        moved = photos(self.lib, [f"origname:{gone[0]}"]).get()
        assert os.fsdecode(moved.path) == os.path.join(far, gone[0])
        assert sha(moved.path) == moved.hash
        assert os.path.join(far, gone[1]) in companion_rows(self.lib)
        out = self.run_output(capsys, "similar-undo")
        assert "put back 1 photo (1 companion file)" in out
        assert tree_state(root) == before and os.listdir(far) == []
        assert_consistent(self.lib, root)
        assert_companions_exist(self.lib)


# Killed after the copy on the other disk, before the original is unlinked.
KILLED_AFTER_COPY = textwrap.dedent("""\
    import os, signal, sys
    real_unlink = os.unlink
    def unlink(path, *args, **kwargs):
        if os.fsdecode(path).startswith(os.environ["ROOT"]) and os.listdir(os.environ["FAR"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_unlink(path, *args, **kwargs)
    os.unlink = unlink
    from beets.ui import main
    main(sys.argv[1:])
    """)


# Killed half way through the copy on the other disk.
KILLED_DURING_COPY = textwrap.dedent("""\
    import os, shutil, signal, sys
    def copyfileobj(source, target, length=0):
        target.write(source.read(100))
        target.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    shutil.copyfileobj = copyfileobj
    from beets.ui import main
    main(sys.argv[1:])
    """)


def _move_killed(tmp_path, far, script_text: str, names=("a.jpg",)):
    """A library of ``names`` and a copy of the first, imported, whose
    ``similar-dupes -e --move`` to ``far`` (another disk) was killed by
    ``script_text``: (its folder, its BEETSDIR, the folder as it was)."""
    root = tmp_path / "pics"
    root.mkdir()
    for i, name in enumerate(names):
        make(root, name, i + 1)
    (root / "copy.jpg").write_bytes((root / names[0]).read_bytes())
    skip_if_same_disk(far, root)
    beetsdir = tmp_path / "beets"
    write_config(beetsdir, f"similar: {{dupes_folder: {far}, weights: none, "
                           "model: mobilenet_v3_small}\n")
    run_beet(beetsdir, "similar-import", str(root))
    before = tree_state(root)
    script = tmp_path / "beet.py"
    script.write_text(script_text)
    env = dict(os.environ, BEETSDIR=str(beetsdir), HOME=str(beetsdir), ROOT=str(root),
               FAR=far)
    proc = subprocess.run([sys.executable, str(script), "similar-dupes", "-e", "--move"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr
    return root, beetsdir, before


@pytest.mark.slow
@pytest.mark.parametrize("finish", ["resume", "undo"])
def test_killed_during_the_copy_leaves_no_partial_file(tmp_path, far, finish):
    root, beetsdir, before = _move_killed(tmp_path, far, KILLED_DURING_COPY)
    [partial] = os.listdir(far)  # (the extra waits in its folder, under a hidden name)
    assert partial.startswith(".similar-copy-")
    if finish == "resume":
        run_beet(beetsdir, "similar-order", "--resume")
        [moved] = os.listdir(far)
        assert moved in ("a.jpg", "copy.jpg")
    else:
        run_beet(beetsdir, "similar-undo")
        assert os.listdir(far) == [] and tree_state(root) == before


@pytest.mark.slow
@pytest.mark.parametrize("finish", ["resume", "undo"])
def test_killed_between_copy_and_unlink(tmp_path, far, finish):
    root, beetsdir, before = _move_killed(tmp_path, far, KILLED_AFTER_COPY,
                                          ("a.jpg", "b.jpg"))
    assert len(os.listdir(far)) == 1  # the extra is on both disks now
    refused = run_beet(beetsdir, "similar-dupes", "-e", "--move", check=False)
    assert refused.returncode != 0 and "similar-order --resume" in refused.stderr
    if finish == "resume":
        run_beet(beetsdir, "similar-order", "--resume")
        assert sorted(os.listdir(root)) == ["a.jpg", "b.jpg"]
        gone = os.listdir(far)
        assert len(gone) == 1 and sorted(os.listdir(root)) == sorted({"a.jpg", "b.jpg",
                                                                      "copy.jpg"} - set(gone))
        listed = run_beet(beetsdir, "similar-ls", "-f", "$path").stdout.split()
        assert os.path.join(far, gone[0]) in listed
    out = run_beet(beetsdir, "similar-undo").stdout
    assert "put back 1 photo" in out
    assert tree_state(root) == before and os.listdir(far) == []
    listed = run_beet(beetsdir, "similar-ls", "-f", "$path").stdout.split()
    assert sorted(listed) == sorted(str(root / n) for n in before)


@pytest.mark.slow
def test_undo_cut_off_by_ctrl_c_and_kill_is_finished_by_undo(tmp_path):
    """16.7: the run reads undoing; everything refuses but undo, which
    finishes; nothing is left under a temporary name."""
    root = tmp_path / "pics"
    root.mkdir()
    for i in range(12):
        make(root, f"p_{i:02d}.jpg", 40 + i)
        if i % 2:
            (root / f"p_{i:02d}.xmp").write_text(f"edits {i}\n")
    beetsdir = featurized_library(tmp_path, root, "{weights: none, model: mobilenet_v3_small}")
    original = tree_state(root)
    run_beet(beetsdir, "similar-order")
    renamed = tree_state(root)
    assert renamed != original

    # Ctrl-C in the middle of the undo.
    (tmp_path / "slow.py").write_text(SLOW_BEET)
    proc = start_beet(beetsdir, tmp_path / "slow.py", "similar-undo",
                      moment=tmp_path / "started")
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "interrupted; no file is lost. Run `beet similar-undo` again" in err
    assert "--resume" not in err
    assert not any(n.startswith(".similar-") for n in os.listdir(root))  # issue 27, 10
    for args in (["similar-order", "--resume"], ["similar-order"],
                 ["similar-import", str(root)], ["similar-dupes", "-e", "--move"]):
        refused = run_beet(beetsdir, *args, check=False)
        assert refused.returncode != 0 and "`beet similar-undo` to finish" in refused.stderr

    # Killed in the middle of the undo that goes on.
    (tmp_path / "crash.py").write_text(CRASHING_BEET)
    env = dict(os.environ, BEETSDIR=str(beetsdir), HOME=str(beetsdir), CRASH_AFTER_LINKS="7")
    proc = subprocess.run([sys.executable, str(tmp_path / "crash.py"), "similar-undo"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9
    inodes = {os.stat(os.path.join(f, n)).st_ino: sha(os.path.join(f, n))
              for f, _, ns in os.walk(root) for n in ns}
    assert sorted(inodes.values()) == sorted(original.values())  # nothing lost
    assert not any(n.startswith(".similar-") for n in os.listdir(root))
    refused = run_beet(beetsdir, "similar-order", check=False)
    assert "`beet similar-undo` to finish" in refused.stderr

    out = run_beet(beetsdir, "similar-undo").stdout
    assert "put back" in out
    assert tree_state(root) == original
    listed = run_beet(beetsdir, "similar-ls", "-f", "$path").stdout.split()
    assert sorted(listed) == sorted(str(root / n) for n in original if n.endswith(".jpg"))
    db = sqlite3.connect(beetsdir / "library.db")
    sidecars = sorted(os.fsdecode(p) for (p,) in db.execute("SELECT path FROM similar_companions"))
    assert sidecars == sorted(str(root / n) for n in original if n.endswith(".xmp"))
    assert db.execute("SELECT state FROM similar_runs").fetchall() == [("undone",)]
    assert "nothing to undo" in run_beet(beetsdir, "similar-undo", check=False).stderr
