"""Sending extras to the system trash (a temporary freedesktop trash: the
real one is never touched), undoing it, and the review decisions."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote

import pytest
from beets.exceptions import UserError

from beetsplug.similar import samples
from beetsplug.similar.library import decisions
from beetsplug.similar.library.companions import of as companions_of
from beetsplug.similar.library.models import Photo
from beetsplug.similar.library.photos import photos
from beetsplug.similar.rename import journal
from beetsplug.similar.trash import freedesktop, job, rating, undo

from .conftest import SimilarHelper, write_config

LIGHTROOM_XMP = """\
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0-c000 1.000000, 0000/00/00-00:00:00">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
   xmp:ModifyDate="2023-05-01T10:00:00+02:00"
   xmp:Rating="{rating}"
   crs:Version="15.3"
   crs:Exposure2012="+0.35">
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""
EXIFTOOL_XMP = """\
<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>
<x:xmpmeta xmlns:x='adobe:ns:meta/' x:xmptk='Image::ExifTool 12.40'>
<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
 <rdf:Description rdf:about=''
  xmlns:xap='http://ns.adobe.com/xap/1.0/'>
  <xap:Rating>{rating}</xap:Rating>
 </rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end='w'?>
"""


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make(root: Path, name: str, seed: int) -> Path:
    return Path(samples.save_photo(samples.scene(seed, (160, 120)), str(root / name), seed=seed))


def trash_dir(data: Path) -> Path:
    return data / "Trash"


def trashed(data: Path) -> dict[str, tuple[str, Path]]:
    """{original path: (sha of the trashed file, its .trashinfo)}."""
    out = {}
    info_dir = trash_dir(data) / "info"
    for info in sorted(info_dir.glob("*.trashinfo")) if info_dir.exists() else []:
        original, _ = freedesktop.read_info(str(info), str(data))
        out[original] = (sha(trash_dir(data) / "files" / info.name[:-10]), info)
    return out


@pytest.fixture
def trash_home(tmp_path, monkeypatch) -> Path:
    """A temporary home and freedesktop trash, for this process and send2trash."""
    from send2trash import plat_other
    data = tmp_path / "home" / ".local" / "share"
    data.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setattr(plat_other, "XDG_DATA_HOME", os.fsencode(data))
    monkeypatch.setattr(plat_other, "HOMETRASH_B", os.fsencode(data / "Trash"))
    monkeypatch.setattr(plat_other, "HOMETRASH", str(data / "Trash"))
    return data


def state(lib, pid: int):
    """Everything the library holds about a photo."""
    with lib.transaction() as tx:
        row = tx.query("SELECT * FROM similar_photos WHERE id=?", (pid,))
        flex = tx.query("SELECT key, value FROM similar_photo_attributes WHERE entity_id=? "
                        "ORDER BY key", (pid,))
        feats = tx.query("SELECT model, vector FROM similar_features WHERE photo_id=?", (pid,))
    return ([tuple(r) for r in row], [tuple(r) for r in flex], [tuple(r) for r in feats],
            companions_of(lib, [pid]).get(pid, []))


class TestTrash(SimilarHelper):
    @pytest.fixture(autouse=True)
    def _home(self, trash_home):
        self.data = trash_home

    def copies(self, keeper_sidecar: bool, extra_sidecar: str | None = LIGHTROOM_XMP):
        """a.jpg (kept: older) and copy.jpg, same bytes; sidecars as asked."""
        root = self.photos_dir()
        make(root, "a.jpg", 1)
        (root / "copy.jpg").write_bytes((root / "a.jpg").read_bytes())
        os.utime(root / "a.jpg", (1e9, 1e9))
        if keeper_sidecar:
            (root / "a.xmp").write_text(LIGHTROOM_XMP.format(rating=2))
        if extra_sidecar:
            (root / "copy.xmp").write_text(extra_sidecar.format(rating=5))
        self.config["similar"]["keep"] = ["oldest"]
        self.run_command("similar-import", str(root))
        return root

    def photo(self, name: str) -> Photo:
        return next(p for p in photos(self.lib) if os.path.basename(p.path) == name.encode())

    def test_trash_then_undo_restores_files_rows_and_vectors(self, capsys):
        root = self.copies(keeper_sidecar=True)
        extra = self.photo("copy.jpg")
        extra["album"] = "holiday"  # a flexible attribute
        extra.store()
        with self.lib.transaction() as tx:  # a stored vector
            tx.mutate("INSERT INTO similar_features (photo_id, model, dim, dtype, vector, hash)"
                      " VALUES (?, 'm/l/w', 2, 'float32', ?, ?)",
                      (extra.id, b"\x00\x00\x80?\x00\x00\x00@", extra.hash))
        before = state(self.lib, extra.id)
        files = {n: sha(root / n) for n in ("a.jpg", "a.xmp", "copy.jpg", "copy.xmp")}

        out = self.run_output(capsys, "similar-dupes", "-e", "--trash")
        size = (root / "a.jpg").stat().st_size + len(LIGHTROOM_XMP.format(rating=5))
        assert f"sent 1 photo (2 files, {size / 1000:.1f} kB) to the trash" in out
        assert "`beet similar-undo` restores them" in out
        assert not (root / "copy.jpg").exists() and not (root / "copy.xmp").exists()
        in_trash = trashed(self.data)
        assert {k: v[0] for k, v in in_trash.items()} == {
            str(root / "copy.jpg"): files["copy.jpg"], str(root / "copy.xmp"): files["copy.xmp"]}
        info = in_trash[str(root / "copy.jpg")][1].read_text().splitlines()
        assert info[:2] == ["[Trash Info]", f"Path={quote(str(root / 'copy.jpg'))}"]
        assert info[2].startswith("DeletionDate=")
        assert state(self.lib, extra.id)[0] == []  # row gone, with its vectors
        assert self.photo("a.jpg")["rating"] == 5  # the highest of the group

        out = self.run_output(capsys, "similar-undo")
        assert "2 files back from the trash, 1 photo back in the library" in out
        assert {n: sha(root / n) for n in files} == files
        assert trashed(self.data) == {}
        assert state(self.lib, extra.id) == before
        assert self.photo("a.jpg").get("rating") is None

    def test_an_undo_cut_off_is_unfinished_until_undo_finishes_it(self, capsys):
        """A kill during the undo of a trash run: import refuses (no second
        row for a file already back), and `similar-undo` finishes it."""
        root = self.copies(keeper_sidecar=True)
        self.run_command("similar-dupes", "-e", "--trash")
        run_id = journal.last_undoable(self.lib)[0]

        def killed():  # the process dies after the first photo is back
            raise SystemExit("killed")

        with pytest.raises(SystemExit):
            undo.undo_run(self.lib, run_id, on_photo=killed)
        with pytest.raises(UserError, match="run `beet similar-undo` to finish"):
            self.run_command("similar-import", str(root))
        out = self.run_output(capsys, "similar-undo")
        assert "back in the library" in out
        self.run_command("similar-import", str(root))
        assert sorted(os.path.basename(p.path) for p in photos(self.lib)) == [
            b"a.jpg", b"copy.jpg"]

    def test_keeper_takes_over_the_sidecar_and_gives_it_back(self, capsys):
        root = self.copies(keeper_sidecar=False)
        keep, extra = self.photo("a.jpg"), self.photo("copy.jpg")
        xmp = sha(root / "copy.xmp")
        out = self.run_output(capsys, "similar-dupes", "-e", "--trash")
        assert "1 sidecar of photos sent to the trash now belong to the photo kept" in out
        assert sha(root / "a.xmp") == xmp and not (root / "copy.xmp").exists()
        assert list(trashed(self.data)) == [str(root / "copy.jpg")]
        keep = self.lib._get(Photo, keep.id)
        assert [c.path for c in companions_of(self.lib, [keep.id])[keep.id]] == \
            [str(root / "a.xmp")]
        assert (keep.edited, keep.formats, keep["rating"]) == (1, "JPG XMP", 5)

        self.run_command("similar-undo")
        assert sha(root / "copy.xmp") == xmp and not (root / "a.xmp").exists()
        assert sha(root / "copy.jpg") == sha(root / "a.jpg")
        keep = self.lib._get(Photo, keep.id)
        assert companions_of(self.lib, [keep.id]) == {}
        assert (keep.edited, keep.formats, keep.get("rating")) == (0, "JPG", None)
        assert [c.path for c in companions_of(self.lib, [extra.id])[extra.id]] == \
            [str(root / "copy.xmp")]

    def test_sidecars_can_go_to_the_trash_too(self):
        root = self.copies(keeper_sidecar=False)
        keep, extra = self.photo("a.jpg"), self.photo("copy.jpg")
        outcome = job.trash_extras(self.lib, [(extra, keep)], sidecars=job.TRASH)
        assert (outcome.trashed, outcome.refused, outcome.files, outcome.adopted) == \
            ([extra.id], {}, 2, [])
        assert outcome.bytes == (root / "a.jpg").stat().st_size + \
            len(LIGHTROOM_XMP.format(rating=5))
        assert sorted(trashed(self.data)) == [str(root / "copy.jpg"), str(root / "copy.xmp")]
        assert not (root / "a.xmp").exists()
        assert self.lib._get(Photo, keep.id)["rating"] == 5
        with pytest.raises(ValueError):
            job.trash_extras(self.lib, [(keep, extra)], sidecars="keep")

    def test_order_copies_trash(self, capsys):
        root = self.copies(keeper_sidecar=True, extra_sidecar=None)
        copy = sha(root / "copy.jpg")
        capsys.readouterr()
        with pytest.raises(UserError, match="no vectors of .*; run `beet similar-featurize`"):
            self.run_command("similar-order", "--copies", "trash")
        assert "sent 1 photo (1 file," in capsys.readouterr().out
        assert [v[0] for v in trashed(self.data).values()] == [copy]

    def test_a_trash_without_records_is_named_on_undo(self, monkeypatch, capsys):
        """As on macOS or Windows: the file goes, and nothing says where."""
        root = self.copies(keeper_sidecar=False, extra_sidecar=None)
        elsewhere = self.photos_dir("other-trash")
        monkeypatch.setattr(job, "send2trash",
                            lambda path: os.rename(path, elsewhere / os.path.basename(path)))
        monkeypatch.setattr(job.freedesktop, "find", lambda *a, **k: None)
        out = self.run_output(capsys, "similar-dupes", "-e", "--trash")
        assert "sent 1 photo (1 file," in out and (elsewhere / "copy.jpg").exists()
        out = self.run_output(capsys, "similar-undo")
        assert f"{root / 'copy.jpg'}: in the system trash, which does not record where " \
               "files came from; restore it from there" in out
        assert "0 files back from the trash, 0 photos back" in out
        with pytest.raises(UserError, match="nothing to undo"):  # said once, not every time
            self.run_command("similar-undo")

    def test_a_trash_that_copies_within_one_disk_is_undone(self, monkeypatch, capsys):
        """The attack's case: photos on a bind mount (a container's volume,
        a folder mounted twice). The move into the home trash crosses
        mounts of one disk, so send2trash copies each file there (a new
        inode on the same device, beside the record of its failed move).
        Undo finds each copy by the record the run took and puts back the
        files and the photo's row; it said "does not record where files
        came from" and put back nothing."""
        root = self.copies(keeper_sidecar=True)
        extra = self.photo("copy.jpg")
        before = state(self.lib, extra.id)
        files = {n: sha(root / n) for n in ("a.jpg", "a.xmp", "copy.jpg", "copy.xmp")}
        rename = os.rename

        def across_mounts(src, dst, *args, **kwargs):
            if f"{os.sep}Trash{os.sep}" in os.fsdecode(dst):
                raise OSError(errno.EXDEV, "Invalid cross-device link")
            return rename(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "rename", across_mounts)
        out = self.run_output(capsys, "similar-dupes", "-e", "--trash")
        assert "sent 1 photo (2 files," in out and not (root / "copy.jpg").exists()
        out = self.run_output(capsys, "similar-undo")
        assert "undid run 1 (trash): 2 files back from the trash, 1 photo back in the " \
               "library\n" in out
        assert {n: sha(root / n) for n in files} == files
        assert state(self.lib, extra.id) == before
        assert not os.listdir(trash_dir(self.data) / "files")

    @pytest.mark.parametrize("then", ["similar-undo", "similar-order --resume"])
    def test_a_copy_sent_right_before_a_kill_is_found(self, monkeypatch, capsys, then):
        """As above, killed after the files were copied into the trash and
        before that was recorded: undo finds the copies by their records
        and puts them back, resume finds them sent ("not found in the
        trash (emptied, or restored by hand?)" before, the row kept for a
        file in the trash)."""
        root = self.copies(keeper_sidecar=True)
        extra = self.photo("copy.jpg")
        files = {n: sha(root / n) for n in ("a.jpg", "a.xmp", "copy.jpg", "copy.xmp")}
        rename, record = os.rename, job.runs.set_states

        def across_mounts(src, dst, *args, **kwargs):
            if f"{os.sep}Trash{os.sep}" in os.fsdecode(dst):
                raise OSError(errno.EXDEV, "Invalid cross-device link")
            return rename(src, dst, *args, **kwargs)

        def killed(tx, run_id, done):  # the process dies before recording them
            raise SystemExit("killed")

        monkeypatch.setattr(os, "rename", across_mounts)
        monkeypatch.setattr(job.runs, "set_states", killed)
        with pytest.raises(SystemExit):
            self.run_command("similar-dupes", "-e", "--trash")
        monkeypatch.setattr(job.runs, "set_states", record)
        assert not (root / "copy.jpg").exists()
        assert len(os.listdir(trash_dir(self.data) / "files")) == 2
        out = self.run_output(capsys, *then.split())
        if then == "similar-undo":  # its row was never removed: none comes back
            assert "undid run 1 (trash): 2 files back from the trash, 0 photos back in the " \
                   "library\n" in out
            assert {n: sha(root / n) for n in files} == files
            assert [os.path.basename(p.path) for p in photos(self.lib)].count(b"copy.jpg") == 1
            assert not os.listdir(trash_dir(self.data) / "files")
        else:
            assert "sent 1 photo (2 files," in out
            assert state(self.lib, extra.id)[0] == []  # its row goes with its files
            assert "2 files back from the trash" in self.run_output(capsys, "similar-undo")
            assert {n: sha(root / n) for n in files} == files

    @pytest.mark.parametrize("killed", ["in a copy", "before its record"])
    def test_an_undo_copying_back_killed_is_finished_by_undo(self, monkeypatch, capsys,
                                                             killed):
        """The trash on another mount than the photos: undo copies each file
        back. Killed in the middle of a copy (it left half a file under the
        photo's own name, and the next undo said "taken by another file"),
        or after the copies and before they were recorded (the next undo
        said "not found in the trash" and never gave the rows back): the
        next undo puts back every file whole and every row."""
        root = self.copies(keeper_sidecar=True)
        extra = self.photo("copy.jpg")
        before = state(self.lib, extra.id)
        files = {n: sha(root / n) for n in ("a.jpg", "a.xmp", "copy.jpg", "copy.xmp")}
        self.run_command("similar-dupes", "-e", "--trash")
        link, copy, record = os.link, shutil.copyfileobj, undo.runs.set_states

        def across_mounts(src, dst, *args, **kwargs):
            if f"{os.sep}Trash{os.sep}" in os.fsdecode(src):
                if os.path.lexists(dst):  # as Linux says first
                    raise FileExistsError(errno.EEXIST, "File exists", dst)
                raise OSError(errno.EXDEV, "Invalid cross-device link")
            return link(src, dst, *args, **kwargs)

        def half_then_killed(fsrc, fdst, *args):
            fdst.write(fsrc.read()[:100])
            fdst.flush()
            raise SystemExit("killed")

        def killed_before_record(tx, run_id, done):
            raise SystemExit("killed")

        monkeypatch.setattr(os, "link", across_mounts)
        if killed == "in a copy":
            monkeypatch.setattr(shutil, "copyfileobj", half_then_killed)
        else:
            monkeypatch.setattr(undo.runs, "set_states", killed_before_record)
        with pytest.raises(SystemExit):
            self.run_command("similar-undo")
        monkeypatch.setattr(shutil, "copyfileobj", copy)
        monkeypatch.setattr(undo.runs, "set_states", record)
        for name in ("copy.jpg", "copy.xmp"):  # never half a file under its name
            assert not (root / name).exists() or sha(root / name) == files[name]
        out = self.run_output(capsys, "similar-undo")
        assert "1 photo back in the library" in out and "problem" not in out
        assert {n: sha(root / n) for n in files} == files
        assert sorted(os.listdir(root)) == sorted(files)  # no hidden name left
        assert state(self.lib, extra.id) == before
        assert not os.listdir(trash_dir(self.data) / "files")

    def test_an_undo_killed_between_link_and_unlink_leaves_nothing_in_the_trash(
            self, capsys):
        """The attack's case: an undo killed after linking a file back to
        its name and before unlinking it from the trash. The next undo
        finds it back, restores its row and removes the trash's second
        name of it (it stayed in the trash, a file that emptying the trash
        would not free, and a photo shown there)."""
        root = self.copies(keeper_sidecar=False, extra_sidecar=None)
        extra = self.photo("copy.jpg")
        before = state(self.lib, extra.id)
        self.run_command("similar-dupes", "-e", "--trash")
        (entry, info), = [(trash_dir(self.data) / "files" / i.name[:-10], i)
                          for i in (trash_dir(self.data) / "info").iterdir()]
        os.link(entry, root / "copy.jpg")  # the killed undo got this far
        with self.lib.transaction() as tx:
            tx.mutate("UPDATE similar_runs SET state='undoing'")
        out = self.run_output(capsys, "similar-undo")
        assert "finishing the undo of run 1" in out and "1 photo back in the library" in out
        assert "problem" not in out
        assert state(self.lib, extra.id) == before
        assert not entry.exists() and not info.exists()
        assert os.stat(root / "copy.jpg").st_nlink == 1

    def test_a_run_that_sent_nothing_is_not_a_run(self, capsys, caplog):
        """Issue 27, 3: undo takes the real run, not an empty one after it;
        the refusal names the photo."""
        root = self.copies(keeper_sidecar=False, extra_sidecar=None)
        copy = sha(root / "copy.jpg")
        self.run_command("similar-dupes", "-e", "--trash")  # run 1: copy.jpg goes
        make(root, "b.jpg", 2)
        (root / "b_copy.jpg").write_bytes((root / "b.jpg").read_bytes())
        (root / "b_copy.xmp").write_text("edits\n")
        os.utime(root / "b.jpg", (1e9, 1e9))
        self.run_command("similar-import", str(root))
        os.remove(root / "b_copy.xmp")
        os.symlink(root / "b.jpg", root / "b_copy.xmp")  # no longer a regular file
        out = self.run_output(capsys, "similar-dupes", "-e", "--trash")
        assert "sent 0 photos (0 files, 0 bytes) to the trash; 1 left in place (see above)\n" \
            in out
        assert [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()] == [
            f"{root / 'b_copy.jpg'}: not sent to the trash: its companion "
            f"{root / 'b_copy.xmp'} is not a regular file"]
        listed = self.run_output(capsys, "similar-undo", "--list").splitlines()
        assert len(listed) == 1 and listed[0].startswith("run 1: ")
        out = self.run_output(capsys, "similar-undo")
        assert "undid run 1 (trash): 1 file back from the trash, 1 photo back" in out
        assert sha(root / "copy.jpg") == copy

    def test_a_file_edited_since_import_stays(self, caplog):
        root = self.copies(keeper_sidecar=False, extra_sidecar=None)
        extra, keep = self.photo("copy.jpg"), self.photo("a.jpg")
        make(root, "copy.jpg", 9)  # now another picture
        edited = sha(root / "copy.jpg")
        outcome = job.trash_extras(self.lib, [(extra, keep)])
        assert outcome.trashed == [] and outcome.files == 0
        assert outcome.refused == {extra.id: "it changed since it was imported; re-import it"}
        assert outcome.run_id is None and journal.moved(self.lib, outcome.run_id) == 0
        assert job.undo_run(self.lib, outcome.run_id).files == 0  # the page's undo of it
        assert sha(root / "copy.jpg") == edited and trashed(self.data) == {}
        assert self.lib._get(Photo, extra.id) is not None

    def test_same_names_from_two_folders_go_back_to_their_own(self):
        root = self.photos_dir()
        for sub, seed in (("x", 1), ("y", 2)):
            make(root / sub, "keep.jpg", seed)
            (root / sub / "dup.jpg").write_bytes((root / sub / "keep.jpg").read_bytes())
        self.run_command("similar-import", str(root))
        pairs = [(self.lib._get(Photo, p.id), k) for k in photos(self.lib)
                 for p in photos(self.lib)
                 if p.hash == k.hash and p.path.endswith(b"dup.jpg")
                 and k.path.endswith(b"keep.jpg")]
        before = {sub: sha(root / sub / "dup.jpg") for sub in ("x", "y")}
        outcome = job.trash_extras(self.lib, pairs)
        assert len(outcome.trashed) == 2 and outcome.files == 2
        assert sorted(os.listdir(trash_dir(self.data) / "files")) == ["dup 1.jpg", "dup.jpg"]
        undone = job.undo_run(self.lib, outcome.run_id)
        assert undone.errors == [] and sorted(undone.restored) == sorted(outcome.trashed)
        assert {sub: sha(root / sub / "dup.jpg") for sub in ("x", "y")} == before

    def test_undo_never_overwrites(self, capsys, caplog):
        root = self.copies(keeper_sidecar=False, extra_sidecar=None)
        original = sha(root / "copy.jpg")
        self.run_command("similar-dupes", "-e", "--trash")
        make(root, "copy.jpg", 7)  # a new file took the name
        newer = sha(root / "copy.jpg")
        out = self.run_output(capsys, "similar-undo")
        assert "0 files back from the trash, 0 photos back in the library; 1 problem (see " \
               "above)" in out
        assert any("copy.jpg is taken by another file; it stays in the trash at" in
                   r.getMessage() for r in caplog.records)
        assert sha(root / "copy.jpg") == newer
        assert [v[0] for v in trashed(self.data).values()] == [original]


def _beet(beetsdir: Path, data: Path, *args: str, kill_at: str | None = None):
    """The real command line; ``kill_at``: a function of trash.job's
    module ``store`` at whose call the process kills itself (kill -9)."""
    env = dict(os.environ, BEETSDIR=str(beetsdir), HOME=str(data.parent.parent),
               XDG_DATA_HOME=str(data))
    code = "import sys\nfrom beets.ui import main\n"
    if kill_at:
        code += textwrap.dedent(f"""\
            import os, signal
            from beetsplug.similar.trash import store
            store.{kill_at} = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
            """)
    code += "main(sys.argv[1:])\n"
    return subprocess.run([sys.executable, "-c", code, *args], env=env,
                          capture_output=True, text=True, timeout=300)


def _names(beetsdir: Path) -> str:
    """The file names of the library's photos, one a line."""
    with sqlite3.connect(beetsdir / "library.db") as db:
        rows = db.execute("SELECT path FROM similar_photos ORDER BY path").fetchall()
    return "".join(os.path.basename(os.fsdecode(path)) + "\n" for (path,) in rows)


@pytest.mark.slow
@pytest.mark.parametrize("then", ["similar-undo", "similar-order --resume"])
def test_killed_between_trash_and_commit(tmp_path, then):
    data = tmp_path / "home" / ".local" / "share"
    data.mkdir(parents=True)
    root = tmp_path / "photos"
    root.mkdir()
    make(root, "a.jpg", 1)
    (root / "copy.jpg").write_bytes((root / "a.jpg").read_bytes())
    os.utime(root / "a.jpg", (1e9, 1e9))
    beetsdir = write_config(tmp_path / "beets", "similar:\n  keep: [oldest]\n")
    assert _beet(beetsdir, data, "similar-import", str(root)).returncode == 0
    copy = sha(root / "copy.jpg")

    killed = _beet(beetsdir, data, "similar-dupes", "-e", "--trash", kill_at="forget")
    assert killed.returncode == -signal.SIGKILL
    assert not (root / "copy.jpg").exists()  # in the trash, not yet committed
    assert [v[0] for v in trashed(data).values()] == [copy]

    done = _beet(beetsdir, data, *then.split())
    assert done.returncode == 0, done.stderr
    listed = _names(beetsdir)
    if then == "similar-undo":
        assert sha(root / "copy.jpg") == copy and trashed(data) == {}
        assert listed.count("copy.jpg") == 1  # the row was never removed: not doubled
        assert "1 file back from the trash" in done.stdout
    else:
        assert not (root / "copy.jpg").exists()
        assert "copy.jpg" not in listed and "a.jpg" in listed
        assert "sent 1 photo (1 file," in done.stdout
        again = _beet(beetsdir, data, "similar-undo")
        assert "1 photo back in the library" in again.stdout
        assert sha(root / "copy.jpg") == copy
        assert "copy.jpg" in _names(beetsdir)


def test_xmp_rating_from_real_files(tmp_path):
    lightroom = tmp_path / "IMG_1.xmp"
    lightroom.write_text(LIGHTROOM_XMP.format(rating=4))
    exiftool = tmp_path / "IMG_2.CR2.xmp"
    exiftool.write_text(EXIFTOOL_XMP.format(rating=-1), encoding="utf-8")
    broken = tmp_path / "IMG_3.xmp"  # not well-formed: the usual spelling still counts
    broken.write_bytes(b"<x:xmpmeta><rdf:Description xmp:Rating='3'></x:xmpmeta")
    none = tmp_path / "IMG_4.xmp"
    none.write_text(LIGHTROOM_XMP.replace('   xmp:Rating="{rating}"\n', ""))
    assert [rating.read(str(p)) for p in (lightroom, exiftool, broken, none)] == [4, -1, 3, None]
    assert rating.read(str(tmp_path / "missing.xmp")) is None


def test_sidecar_names():
    from beetsplug.similar.trash.merge import adoptions, sidecar_name
    assert sidecar_name("/p/b.xmp", "/p/b.jpg", "/q/a.jpg") == "/q/a.xmp"
    assert sidecar_name("/p/b.CR2.xmp", "/p/b.CR2", "/q/a.jpg") == "/q/a.jpg.xmp"
    extras = [(1, "/p/b.jpg", [(1, "/p/b.xmp")], 2), (2, "/p/c.jpg", [(1, "/p/c.xmp")], 4)]
    assert adoptions("/q/a.jpg", False, extras, exists=lambda p: False) == \
        {2: [(1, "/q/a.xmp")]}
    assert adoptions("/q/a.jpg", True, extras, exists=lambda p: False) == {}
    assert adoptions("/q/a.jpg", False, extras, exists=lambda p: True) == {}


class TestDecisions(SimilarHelper):
    def test_groups_sets_and_position_persist(self):
        key = decisions.group_key([9, 3, 5, 3])
        assert key == "3,5,9" == decisions.group_key((5, 9, 3))
        decisions.mark(self.lib, key, "resolved", run_id=4)
        decisions.mark(self.lib, "1,2", "skipped")
        with pytest.raises(ValueError):
            decisions.mark(self.lib, key, "deleted")
        decisions.add_not_duplicates(self.lib, [7, 2, 4])
        decisions.add_not_duplicates(self.lib, [8, 1])
        decisions.set_position(self.lib, key)
        self.lib._connection().close()  # a new session reads them back
        self.lib._connections.clear()
        assert decisions.states(self.lib) == {key: ("resolved", 4), "1,2": ("skipped", None)}
        assert decisions.not_duplicates(self.lib) == {(2, 4), (2, 7), (4, 7), (1, 8)}
        assert decisions.position(self.lib) == key
        decisions.unmark(self.lib, "1,2")
        decisions.remove_not_duplicates(self.lib, [2, 4, 7, 9])
        assert decisions.states(self.lib) == {key: ("resolved", 4)}
        assert decisions.not_duplicates(self.lib) == {(1, 8)}


def test_restore_across_file_systems_and_never_over_a_file(tmp_path, monkeypatch):
    trash = tmp_path / "Trash"
    (trash / "files").mkdir(parents=True)
    (trash / "info").mkdir()
    original = tmp_path / "photos" / "a.jpg"
    kept = trash / "files" / "a 1.jpg"
    kept.write_bytes(b"photo bytes")
    info = trash / "info" / "a 1.jpg.trashinfo"
    info.write_text(f"[Trash Info]\nPath={quote(str(original))}\n"
                    "DeletionDate=2026-01-02T03:04:05\n")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    found = freedesktop.find(str(original), since=0)
    assert found is not None and found.file == str(kept)
    assert freedesktop.find(str(original), since=4e9) is None  # deleted before that
    original.parent.mkdir()
    original.write_bytes(b"another file")
    with pytest.raises(freedesktop.RestoreError, match="is taken by another file; it stays "
                       "in the trash at"):
        freedesktop.restore(found, str(original))
    assert original.read_bytes() == b"another file" and kept.exists()
    original.unlink()

    def cross_device(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")
    monkeypatch.setattr(os, "link", cross_device)
    # Copied back: the entry stays in the trash until the caller has
    # recorded the file back (then it discards it).
    assert freedesktop.restore(found, str(original)) == found
    assert original.read_bytes() == b"photo bytes" and kept.exists() and info.exists()
    assert os.listdir(original.parent) == ["a.jpg"]  # no hidden copy left beside it
    freedesktop.discard([found])
    assert not kept.exists() and not info.exists()


# beet for a trash on another mount (os.link from it fails, as across
# mounts), killed with -9 half way through the copy back of the Nth file.
ACROSS_MOUNTS_BEET = textwrap.dedent("""\
    import errno, os, shutil, signal, sys
    link, copy = os.link, shutil.copyfileobj
    def across_mounts(src, dst, *args, **kwargs):
        if os.sep + "Trash" + os.sep in os.fsdecode(src):
            if os.path.lexists(dst):
                raise FileExistsError(errno.EEXIST, "File exists", dst)
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return link(src, dst, *args, **kwargs)
    copies = []
    def killed_in_copy(fsrc, fdst, *args):
        copies.append(fdst)
        if len(copies) == int(os.environ.get("KILL_AT_COPY", "0")):
            fdst.write(fsrc.read()[:100])
            fdst.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return copy(fsrc, fdst, *args)
    os.link, shutil.copyfileobj = across_mounts, killed_in_copy
    from beets.ui import main
    main(sys.argv[1:])
    """)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at_copy", [1, 3])
def test_undo_copying_back_killed_9_is_finished_by_undo(tmp_path, kill_at_copy):
    """The attack's case with a real kill -9: the undo of a trash run on
    another mount dies half way through copying a file back; the next
    undo puts every file back whole, with its row, and leaves no half file
    and no hidden name."""
    data = tmp_path / "home" / ".local" / "share"
    data.mkdir(parents=True)
    root = tmp_path / "photos"
    root.mkdir()
    for i in range(3):
        make(root, f"p{i}.jpg", 10 + i)
        (root / f"p{i} (1).jpg").write_bytes((root / f"p{i}.jpg").read_bytes())
    (root / "p1 (1).xmp").write_text(LIGHTROOM_XMP.format(rating=4))
    beetsdir = write_config(tmp_path / "beets")
    script = tmp_path / "across.py"
    script.write_text(ACROSS_MOUNTS_BEET)

    def beet(*args, **env):
        return subprocess.run([sys.executable, str(script), *args], capture_output=True,
                              text=True, timeout=300,
                              env=dict(os.environ, BEETSDIR=str(beetsdir),
                                       HOME=str(data.parent.parent), XDG_DATA_HOME=str(data),
                                       **env))

    assert beet("similar-import", str(root)).returncode == 0
    files = {p.name: sha(p) for p in root.iterdir()}
    rows = _names(beetsdir)
    assert "sent 3 photos" in beet("similar-dupes", "-e", "--trash").stdout
    killed = beet("similar-undo", KILL_AT_COPY=str(kill_at_copy))
    assert killed.returncode == -signal.SIGKILL
    done = beet("similar-undo")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "finishing the undo of run 1, which was interrupted" in done.stdout
    assert "problem" not in done.stdout and not done.stderr
    assert {p.name: sha(p) for p in root.iterdir()} == files  # no half file, no hidden name
    assert _names(beetsdir) == rows
    assert not os.listdir(trash_dir(data) / "files")
