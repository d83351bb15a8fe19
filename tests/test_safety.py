"""Never lose a photo: each data-loss path found by attacking the plugin as
an unlucky user would, reproduced on real files."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import textwrap
import time

import pytest
from beets.exceptions import UserError

from beetsplug.similar import samples
from beetsplug.similar.library.photos import photos

from .conftest import SimilarHelper, copy_tree, featurized_library, run_beet, start_beet
from .test_order_command import tree_state

MODEL = {"weights": "none", "model": "mobilenet_v3_small"}


def sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def assert_consistent(lib, root) -> None:
    """Every row's file exists and holds that row's bytes; no temporary
    name is left behind."""
    for photo in photos(lib):
        assert os.path.isfile(photo.path), photo.path
        assert sha(photo.path) == photo.hash, photo.path
    leftovers = [n for _, _, files in os.walk(root) for n in files if n.startswith(".similar-")]
    assert not leftovers


def make(root, name: str, seed: int) -> str:
    return samples.save_photo(samples.scene(seed, (160, 120)), str(root / name), seed=seed)


def answer(monkeypatch, *replies: str) -> None:
    it = iter(replies)
    monkeypatch.setattr("builtins.input", lambda *a: next(it))


class TestDeleteChecksTheDisk(SimilarHelper):
    """1, 2, 4: a delete acts on facts checked at that moment."""

    def three_and_a_copy(self):
        root = self.photos_dir()
        for i, name in enumerate(("a.jpg", "b.jpg", "c.jpg")):
            make(root, name, i + 1)
        (root / "copy.jpg").write_bytes((root / "a.jpg").read_bytes())
        os.utime(root / "a.jpg", (1e9, 1e9))  # older: a.jpg is the one kept
        self.run_command("similar-import", str(root))
        return root

    def test_overwritten_copy_is_not_deleted(self, monkeypatch, capsys, caplog):
        root = self.three_and_a_copy()
        make(root, "copy.jpg", 9)  # now a different, unique picture
        unique = sha(root / "copy.jpg")
        answer(monkeypatch, "yes")
        out = self.run_output(capsys, "similar-dupes", "-e", "--delete")
        assert sha(root / "copy.jpg") == unique
        assert "deleted nothing; 1 not deleted" in out
        assert any("copy.jpg: not deleted: it changed since it was imported" in r.getMessage()
                   for r in caplog.records)

    def test_overwritten_keeper_keeps_the_last_copy(self, monkeypatch, capsys, caplog):
        root = self.three_and_a_copy()
        original = sha(root / "copy.jpg")
        make(root, "a.jpg", 9)
        answer(monkeypatch, "yes")
        self.run_command("similar-dupes", "-e", "--delete")
        assert sha(root / "copy.jpg") == original
        assert any("the photo to keep changed" in r.getMessage() for r in caplog.records)

    def test_a_true_copy_is_still_deleted(self, monkeypatch, capsys):
        root = self.three_and_a_copy()
        answer(monkeypatch, "yes")
        out = self.run_output(capsys, "similar-dupes", "-e", "--delete")
        assert "deleted 1 exact copy" in out
        assert sorted(os.listdir(root)) == ["a.jpg", "b.jpg", "c.jpg"]
        assert_consistent(self.lib, root)

    def test_two_rows_for_one_file_are_never_a_delete(self, monkeypatch, caplog):
        """A library made by an older version, with a row for a symlink."""
        root = self.photos_dir()
        make(root, "b.jpg", 2)
        os.symlink("b.jpg", root / "alias.jpg")
        self.run_command("similar-import", str(root))
        real = photos(self.lib).get()
        from beetsplug.similar.library.models import Photo

        twin = Photo(self.lib, **{k: real[k] for k in real.keys(computed=False) if k != "id"})
        twin.path = str(root / "alias.jpg").encode()
        twin.add(self.lib)
        answer(monkeypatch, "yes")
        self.run_command("similar-dupes", "-e", "--delete")
        assert (root / "b.jpg").is_file() and os.path.islink(root / "alias.jpg")
        assert any("not deleted" in r.getMessage() for r in caplog.records)

    def test_near_duplicates_are_not_exact_copies(self, scenes_dir, monkeypatch, capsys):
        root = copy_tree(scenes_dir[0], self.photos_dir())
        (root / "again.jpg").write_bytes((root / "photo_0005.jpg").read_bytes())
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        before = set(os.listdir(root))
        answer(monkeypatch, "yes")
        out = self.run_output(capsys, "similar-dupes", "-t", "1.5", "--delete")
        # A huge threshold groups different pictures; --delete alone only
        # deletes the one exact copy, and says why the rest stay.
        assert "--delete leaves the" in out and "near-duplicates alone" in out
        assert "Delete 1 exact copy (same bytes as the photo kept) for good?" in out
        assert "near-duplicate" not in out.split("for good?")[0].split("Delete")[-1]
        assert len(before - set(os.listdir(root))) == 1
        # Named, they are counted apart in the prompt; "no" deletes nothing.
        answer(monkeypatch, "no")
        with pytest.raises(UserError, match="nothing deleted"):
            self.run_output(capsys, "similar-dupes", "-t", "1.5", "--kind", "exact,near",
                            "--delete")
        assert len(os.listdir(root)) == len(before) - 1
        with pytest.raises(UserError, match="unknown --kind"):
            self.run_command("similar-dupes", "--kind", "nearish")

    def test_near_prompt_names_both_kinds(self, scenes_dir, monkeypatch, capsys):
        root = copy_tree(scenes_dir[0], self.photos_dir())
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        listing = self.run_output(capsys, "similar-dupes", "-t", "1.5")
        kept = re.search(r"; keep (\S+):", listing).group(1)
        (root / "again.jpg").write_bytes((root / kept).read_bytes())  # a copy of the kept one
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        answer(monkeypatch, "no")
        capsys.readouterr()
        with pytest.raises(UserError):
            self.run_command("similar-dupes", "-t", "1.5", "--kind", "exact,near", "--delete")
        prompt = capsys.readouterr().out.split("Delete ")[-1]
        assert prompt.startswith("1 exact copy (same bytes as the photo kept) and ")
        assert "near-duplicates (different files that only look alike)" in prompt


class TestOneFileOneRow(SimilarHelper):
    """2: symlinks and hard links never make two rows for one file."""

    def test_symlinked_folder_and_file(self, monkeypatch, capsys):
        root = self.photos_dir()
        for i, name in enumerate(("a.jpg", "b.jpg", "c.jpg")):
            make(root, name, i + 1)
        os.symlink("b.jpg", root / "alias.jpg")
        link = self.temp_path / "photos_link"
        os.symlink(root, link)
        self.run_command("similar-import", str(root))
        out = self.run_output(capsys, "similar-import", str(link))
        assert "imported 0 new, 0 updated, 3 unchanged" in out
        assert sorted(p.filepath.name for p in photos(self.lib)) == ["a.jpg", "b.jpg", "c.jpg"]
        answer(monkeypatch, "yes")
        out = self.run_output(capsys, "similar-dupes", "-e", "--delete")
        assert "no exact copies" in out or "0 groups" in out
        assert sorted(os.listdir(root)) == ["a.jpg", "alias.jpg", "b.jpg", "c.jpg"]
        assert os.path.exists(root / "alias.jpg")  # the link still points at b.jpg

    def test_hard_link_is_another_name(self, capsys):
        root = self.photos_dir()
        make(root, "b.jpg", 2)
        os.link(root / "b.jpg", root / "hard.jpg")
        out = self.run_output(capsys, "similar-import", str(root))
        assert "imported 1 new" in out and "1 other name of a photo already in" in out
        assert len(photos(self.lib)) == 1

    def test_broken_link_is_one_line(self, caplog):
        root = self.photos_dir()
        make(root, "a.jpg", 1)
        os.symlink("gone.jpg", root / "dangling.jpg")
        self.run_command("similar-import", str(root))
        assert any("dangling.jpg: broken symbolic link to gone.jpg" in r.getMessage()
                   for r in caplog.records)


class TestRenamesRecogniseTheirFiles(SimilarHelper):
    """3, 5, 8 and failures half way."""

    def prepare(self, names):
        root = self.photos_dir()
        for i, name in enumerate(names):
            make(root, name, 10 + i)
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        return root

    def test_names_that_look_like_rank_prefixes(self, monkeypatch):
        names = ["x.jpg", "0001-x.jpg", "0002-x.jpg", "y.jpg", "0001-y.jpg", "0002-y.jpg"]
        root = self.prepare(names)
        before = sorted(tree_state(root).values())
        self.run_command("similar-order")
        assert_consistent(self.lib, root)
        assert sorted(tree_state(root).values()) == before
        assert sorted(p.rank for p in photos(self.lib)) == list(range(1, 7))
        self.run_command("similar-import", str(root))
        answer(monkeypatch, "yes")
        self.run_command("similar-order", "--copies", "delete")
        assert sorted(tree_state(root).values()) == before
        assert_consistent(self.lib, root)
        self.run_command("similar-undo")  # the same order again renamed nothing
        assert_consistent(self.lib, root)
        assert sorted(os.listdir(root)) == sorted(names)

    def test_undo_leaves_a_reused_name_alone(self, caplog, capsys):
        root = self.prepare(["IMG_1.jpg", "IMG_2.jpg", "IMG_3.jpg", "IMG_4.jpg"])
        self.run_command("similar-order")
        newcomer = make(root, "IMG_2.jpg", 99)  # the camera reused the number
        newcomer_hash = sha(newcomer)
        out = self.run_output(capsys, "similar-undo")
        assert "1 not put back" in out
        assert any("IMG_2.jpg: already exists" in r.getMessage() for r in caplog.records)
        assert sha(newcomer) == newcomer_hash
        assert_consistent(self.lib, root)
        stuck = photos(self.lib, ["origname:IMG_2.jpg"]).get()
        assert stuck.filepath.name.endswith("-IMG_2.jpg")
        # Once the name is free again, undo finishes the job.
        os.remove(newcomer)
        self.run_command("similar-undo")
        assert sorted(os.listdir(root)) == ["IMG_1.jpg", "IMG_2.jpg", "IMG_3.jpg", "IMG_4.jpg"]
        assert_consistent(self.lib, root)

    def test_target_taken_half_way_puts_the_photo_back(self, monkeypatch, caplog):
        root = self.prepare(["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
        from beetsplug.similar.rename import journal

        real_perform, squatted = journal.perform, []

        def perform(src, dst, *args):
            if not os.path.basename(dst).startswith(".similar-") and not squatted:
                squatted.append(dst)
                open(dst, "w").write("someone else's")  # took the name meanwhile
            return real_perform(src, dst, *args)

        monkeypatch.setattr(journal, "perform", perform)
        self.run_command("similar-order")
        assert open(squatted[0]).read() == "someone else's"
        assert_consistent(self.lib, root)
        names = sorted(os.listdir(root))
        assert sum(n[:4].isdigit() for n in names) == 3 + 1  # three renamed, the squatter
        assert any("already exists" in r.getMessage() for r in caplog.records)
        monkeypatch.setattr(journal, "perform", real_perform)
        os.remove(squatted[0])
        self.run_command("similar-undo")
        assert sorted(os.listdir(root)) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
        assert_consistent(self.lib, root)

    def test_clear_restores_exact_names(self):
        odd = ["new\nline.jpg", "--help.jpg", "x" * 251 + ".jpg", "plain.jpg"]
        root = self.prepare(odd)
        self.run_command("similar-order")
        assert not set(odd) & set(os.listdir(root)) - {"plain.jpg"}
        self.run_command("similar-order", "--clear")
        assert sorted(os.listdir(root)) == sorted(odd)
        assert_consistent(self.lib, root)


class TestAnyByteName(SimilarHelper):
    """6: a file name that is not UTF-8 works everywhere."""

    def test_latin1_name(self, tmp_path, capsys):
        root = self.photos_dir()
        make(root, "a.jpg", 1)
        make(root, "b.jpg", 2)
        latin1 = os.path.join(os.fsencode(root), b"caf\xe9.jpg")
        os.rename(root / "a.jpg", latin1)
        self.config["similar"].set(MODEL)
        out = self.run_output(capsys, "similar-import", str(root))
        assert "imported 2 new" in out
        listed = self.run_output(capsys, "similar-ls", "-f", "$origname")
        assert "caf" in listed and "b.jpg" in listed
        self.run_command("similar-featurize")
        csv = tmp_path / "f.csv"
        self.run_command("similar-order", "--export", str(csv))
        assert any(n.startswith(b"000") and n.endswith(b"caf\xe9.jpg")
                   for n in os.listdir(os.fsencode(root)))
        assert b"caf\xe9.jpg" in csv.read_bytes()
        self.run_command("similar-report", "--all", "-t", "0.01", "-o", str(tmp_path / "r.html"))
        assert "caf\ufffd.jpg" in (tmp_path / "r.html").read_text(encoding="utf-8")
        self.run_command("similar-order", "--clear")
        assert sorted(os.listdir(os.fsencode(root))) == [b"b.jpg", b"caf\xe9.jpg"]
        assert_consistent(self.lib, root)
        self.run_command("similar-undo")
        self.run_command("similar-undo")
        assert sorted(os.listdir(os.fsencode(root))) == [b"b.jpg", b"caf\xe9.jpg"]


class TestOutputsAndFolders(SimilarHelper):
    """9, 10: files to write and the duplicates folder."""

    def test_missing_output_folders_are_one_line(self, tmp_path):
        with pytest.raises(UserError, match=r"-o .*/missing/dir/r.html: no folder .*create it"):
            self.run_command("similar-report", "-o", str(tmp_path / "missing/dir/r.html"))
        with pytest.raises(UserError, match=r"--export .*: no folder"):
            self.run_command("similar-order", "--export", str(tmp_path / "missing/f.csv"))

    def prepare(self):
        root = self.photos_dir()
        make(root / "2021", "a.jpg", 1)
        (root / "2021" / "copy.jpg").write_bytes((root / "2021" / "a.jpg").read_bytes())
        os.utime(root / "2021" / "a.jpg", (1e9, 1e9))
        self.run_command("similar-import", str(root))
        return root

    def test_folder_outside_every_import_is_refused(self):
        root = self.prepare()
        self.config["similar"]["dupes_folder"] = "../../x"
        with pytest.raises(UserError, match="outside every folder you imported"):
            self.run_command("similar-dupes", "-e", "--move")
        assert sorted(os.listdir(root / "2021")) == ["a.jpg", "copy.jpg"]

    def test_relative_folder_inside_an_import_is_normalised(self):
        root = self.prepare()
        self.config["similar"]["dupes_folder"] = "../dupes"
        self.run_command("similar-dupes", "-e", "--move")
        moved = photos(self.lib, ["origname:copy.jpg"]).get()
        assert os.fsdecode(moved.path) == str(root / "dupes" / "copy.jpg")
        assert_consistent(self.lib, root)

    def test_tilde_is_home(self, monkeypatch):
        root = self.prepare()
        home = self.temp_path / "home"
        monkeypatch.setenv("HOME", str(home))
        self.config["similar"]["dupes_folder"] = "~/dupes"
        self.run_command("similar-dupes", "-e", "--move")
        assert (home / "dupes" / "copy.jpg").is_file()
        assert_consistent(self.lib, root)


SLOW_BEET = textwrap.dedent("""\
    import os, sys, time
    real_link = os.link
    def link(src, dst):
        if not os.path.exists(os.environ["STARTED"]):
            open(os.environ["STARTED"], "w").close()
        time.sleep(0.03)
        real_link(src, dst)
    os.link = link
    from beets.ui import main
    main(sys.argv[1:])
    """)

# Ctrl-C in the worst place: in beets' Transaction.__exit__ after the stack
# is popped and before the database lock is released. It used to leave the
# lock held, and the walk's final commit then waited for it for ever.
CTRL_C_IN_TRANSACTION = textwrap.dedent("""\
    import os, signal, sys, threading
    from beets.dbcore import db

    class KickingLock:
        armed = False
        def __init__(self):
            self.lock = threading.Lock()
        def acquire(self, *args, **kwargs):
            return self.lock.acquire(*args, **kwargs)
        def release(self):
            if KickingLock.armed:
                KickingLock.armed = False
                os.kill(os.getpid(), signal.SIGINT)
            self.lock.release()

    real_init = db.Database.__init__
    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self._db_lock = KickingLock()
    db.Database.__init__ = init
    from beetsplug.similar.rename import journal
    journal.COMMIT_EVERY = 10  # commits in the middle of the walk
    real_link, links = os.link, [0]
    def link(src, dst):
        real_link(src, dst)
        links[0] += 1
        if links[0] == 20:
            open(os.environ["STARTED"], "w").close()
            KickingLock.armed = True
    os.link = link
    from beets.ui import main
    main(sys.argv[1:])
    """)


@pytest.mark.parametrize("script, delay", [(SLOW_BEET, 0.0), (SLOW_BEET, 0.9),
                                           (CTRL_C_IN_TRANSACTION, None)],
                         ids=["at-once", "later", "inside-a-transaction"])
@pytest.mark.slow
def test_ctrl_c_during_renames_ends_soon_and_resumes(tmp_path, scenes_dir, script, delay):
    """7: Ctrl-C stops within seconds; --resume and undo complete the run."""
    root = copy_tree(scenes_dir[0], tmp_path / "pics")
    beetsdir = featurized_library(tmp_path, root, "{weights: none, model: mobilenet_v3_small}")
    original = tree_state(root)
    (tmp_path / "beet.py").write_text(script)
    proc = start_beet(beetsdir, tmp_path / "beet.py", "similar-order",
                      moment=tmp_path / "started")
    sent = time.monotonic()
    if delay is not None:
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("similar-order hung after Ctrl-C")
    assert time.monotonic() - sent < 5
    assert proc.returncode != 0 and "interrupted; no file is lost" in err
    run_beet(beetsdir, "similar-order", "--resume")
    state = tree_state(root)
    assert sorted(state.values()) == sorted(original.values())
    assert all(name[:4].isdigit() for name in state)
    run_beet(beetsdir, "similar-undo")
    assert tree_state(root) == original
