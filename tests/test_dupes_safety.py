"""What similar-dupes says and does, on real files: the photo kept is
checked before anything is moved or marked, a photo kept in one group is
never an extra of another, exact copies are counted alike everywhere, and
bad templates and settings are one line."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from beets.exceptions import UserError

from beetsplug.similar import samples
from beetsplug.similar.library.photos import photos

from .conftest import SimilarHelper, copy_tree, ctrl_c_as_in_a_terminal, write_config

MODEL = {"weights": "none", "model": "mobilenet_v3_small"}
THRESHOLD = "0.003"  # untrained MobileNetV3Small parts the scenes (test_dupes_report)
WHEN = datetime(2022, 7, 14, 18, 30, 0)


def sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def make(root, name: str, seed: int) -> str:
    return samples.save_photo(samples.scene(seed, (160, 120)), str(root / name), seed=seed)


def no_exif(root, name: str, seed: int) -> str:
    """A photo without EXIF: no camera, no date."""
    path = str(root / name)
    samples.scene(seed, (160, 120)).save(path, "JPEG", quality=90)
    return path


def answer(monkeypatch, *replies: str) -> None:
    it = iter(replies)
    monkeypatch.setattr("builtins.input", lambda *a: next(it))


def groups(out: str) -> list[tuple[str, str, list[str]]]:
    """[(kind, the photo kept, member lines from the mark on)] of a
    similar-dupes listing."""
    return [(kind, kept, [line[2:] for line in body.splitlines()])
            for kind, kept, body in re.findall(
                r"group \d+: (\w+), \d+ photos; keep (.+?): [^\n]+\n((?:  .*\n)+)", out)]


def beet_env(beetsdir) -> dict:
    return dict(os.environ, BEETSDIR=str(beetsdir), HOME=str(beetsdir), PYTHONUNBUFFERED="1")


class TestTemplates(SimilarHelper):
    """16.4, 19.6: empty names are refused; an unknown date is empty."""

    def test_a_template_that_gives_an_empty_name_is_refused(self, capsys):
        root = self.photos_dir()
        for i in range(3):
            no_exif(root, f"img_{i}.jpg", i + 1)
        (root / "img_1.xmp").write_text("<x:xmpmeta/>")
        self.config["similar"].set({**MODEL, "depth": 1})
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        before = sorted(os.listdir(root))
        for template in ("$camera", "$camera.jpg", "$taken"):
            self.config["similar"]["rename_format"] = template
            for dry in ((), ("--dry-run",)):
                with pytest.raises(UserError, match=re.escape(
                        f"similar.rename_format {template!r} gives ") + r"img_\d\.jpg " +
                        re.escape("(and 2 other photos) an empty or hidden name")):
                    self.run_command("similar-order", *dry)
                assert sorted(os.listdir(root)) == before
        # A template that gives names still renames, sidecar included.
        self.config["similar"]["rename_format"] = "$rankpad-$camera$origname"
        self.run_command("similar-order")
        names = sorted(os.listdir(root))
        assert len(names) == 4 and all(re.match(r"000\d-img_\d\.(jpg|xmp)$", n) for n in names)

    def test_unknown_date_is_empty_everywhere(self, capsys):
        root = self.photos_dir()
        no_exif(root, "undated.jpg", 1)
        shutil.copy(root / "undated.jpg", root / "undated_again.jpg")
        samples.save_photo(samples.scene(2, (160, 120)), str(root / "dated.jpg"), seed=2,
                           when=WHEN)
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        listed = self.run_output(capsys, "similar-ls", "-f", "$origname [$taken]").splitlines()
        assert listed[1:] == ["undated.jpg []", "undated_again.jpg []"]
        assert listed[0].startswith("dated.jpg [2022-07-14")
        dupes = self.run_output(capsys, "similar-dupes", "-e", "-f", "$origname [$taken]")
        assert "undated_again.jpg []" in dupes and "1970" not in dupes
        # Queries on the date still work.
        assert self.run_output(capsys, "similar-ls", "taken:2022", "-f", "$origname") \
            == "dated.jpg\n"


class TestKeptIsChecked(SimilarHelper):
    """16.9, 16.14: --move and --tag act on files checked at that moment."""

    def test_rows_of_a_renamed_folder_are_never_kept_or_moved_to(self, capsys, caplog):
        top = self.photos_dir()
        trip = top / "trip"
        for i in range(4):
            make(trip, f"img_{i}.jpg", i + 1)
        (trip / "img_0.xmp").write_text("<x:xmpmeta/>")
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(top))
        # The folder is renamed outside the library (copied, then removed),
        # and imported again: the old rows stay, as ghosts imported first.
        shutil.copytree(trip, top / "trip-2021")
        self.run_command("similar-import", str(top))
        shutil.rmtree(trip)
        assert len(photos(self.lib)) == 8
        before = {n: sha(top / "trip-2021" / n) for n in os.listdir(top / "trip-2021")}
        listing = self.run_output(capsys, "similar-dupes", "-e", "-f", "$path")
        found = groups(listing)
        assert len(found) == 4
        for _, _, members in found:
            kept = next(m for m in members if m.startswith("* "))
            assert "trip-2021" in kept and "file is gone" not in kept
            assert any("/trip/" in m and "file is gone" in m for m in members)
        out = self.run_output(capsys, "similar-dupes", "-e", "--move")
        out += self.run_output(capsys, "similar-dupes", "-e", "--tag")
        assert "nothing to do" in out and not any(
            line.startswith(("move:", "mark:")) for line in out.splitlines())
        assert not (top / "duplicates").exists() and not (top / "trip-2021" / "duplicates").exists()
        assert {n: sha(top / "trip-2021" / n) for n in os.listdir(top / "trip-2021")} == before
        assert not photos(self.lib, ["duplicate_of:1.."])
        assert sum("left alone: the file is gone" in r.getMessage()
                   for r in caplog.records) == 8

    def copies(self):
        root = self.photos_dir()
        make(root, "a.jpg", 1)
        make(root, "b.jpg", 2)
        shutil.copy(root / "a.jpg", root / "a_copy.jpg")
        shutil.copy(root / "b.jpg", root / "b_copy.jpg")
        for name in ("a.jpg", "b.jpg"):
            os.utime(root / name, (1e9, 1e9))  # older: kept
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        return root

    def test_a_changed_keeper_leaves_its_group_alone(self, capsys, caplog):
        root = self.copies()
        make(root, "a.jpg", 9)  # the photo kept is now another picture
        out = self.run_output(capsys, "similar-dupes", "-e", "--move")
        # a_copy.jpg is now the only file of its picture: it stays.
        assert (root / "a_copy.jpg").is_file()
        assert os.listdir(root / "duplicates") == ["b_copy.jpg"]
        assert "moved 1 exact copy" in out
        assert not any(line.startswith("move:") and "a_copy" in line for line in out.splitlines())
        lines = [r.getMessage() for r in caplog.records if "a.jpg" in r.getMessage()]
        assert len(lines) == 1 and "the photo to keep changed since it was imported" in lines[0]
        assert lines[0].endswith("; so its group is left alone (1 other photo)")
        self.run_command("similar-dupes", "-e", "--tag")
        assert [p.origname for p in photos(self.lib, ["duplicate_of:1.."])] == ["b_copy.jpg"]

    def test_an_edited_copy_is_not_moved_as_same_bytes(self, capsys, caplog):
        root = self.copies()
        make(root, "b_copy.jpg", 7)  # edited since import: no longer b.jpg's bytes
        edited = sha(root / "b_copy.jpg")
        out = self.run_output(capsys, "similar-dupes", "-e", "--move")
        assert "moved 1 exact copy" in out
        assert not any(line.startswith("move:") and "b_copy" in line for line in out.splitlines())
        assert sha(root / "b_copy.jpg") == edited
        assert os.listdir(root / "duplicates") == ["a_copy.jpg"]
        assert any("b_copy.jpg: left alone: it changed since it was imported" in r.getMessage()
                   for r in caplog.records)


class TestPhotosInBeetsDirectory(SimilarHelper):
    """Photos under beets' ``directory:``, stored absolute all the same: the
    keeper, which weighs plain rows (``selection.facts``), must see where
    the files really are."""

    def test_a_reference_folder_under_beets_directory_protects_its_photos(self, capsys):
        top = Path(os.fsdecode(self.lib.directory))
        shoot, reference = top / "shoot", top / "reference"
        make(shoot, "a.jpg", 1)
        reference.mkdir(parents=True)
        shutil.copy(shoot / "a.jpg", reference / "a.jpg")
        os.utime(shoot / "a.jpg", (1e9, 1e9))  # older: kept, but for the reference folder
        self.config["similar"].set({**MODEL, "keep": ["oldest", f"path:{reference}"]})
        self.run_command("similar-import", str(top))
        with self.lib.transaction() as tx:
            assert all(os.path.isabs(os.fsdecode(p))
                           for (p,) in tx.query("SELECT path FROM similar_photos"))
        [(_, _, members)] = groups(self.run_output(capsys, "similar-dupes", "-e", "-f",
                                                   "$path"))
        assert members[0] == f"* {reference / 'a.jpg'}"
        assert members[1].startswith(f"  {shoot / 'a.jpg'}  (same bytes as ")
        out = self.run_output(capsys, "similar-dupes", "-e", "--move")
        assert "moved 1 exact copy" in out
        assert os.listdir(reference) == ["a.jpg"]
        assert os.listdir(shoot / "duplicates") == ["a.jpg"]

    def test_a_row_whose_file_is_gone_is_not_kept_under_beets_directory(self, capsys):
        shoot = Path(os.fsdecode(self.lib.directory)) / "shoot"
        make(shoot, "b.jpg", 2)
        shutil.copy(shoot / "b.jpg", shoot / "b_copy.jpg")
        os.utime(shoot / "b.jpg", (1e9, 1e9))  # older: kept while it is there
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(shoot))
        os.remove(shoot / "b.jpg")
        [(_, kept, members)] = groups(self.run_output(capsys, "similar-dupes", "-e", "-f",
                                                      "$filename"))
        assert kept == "b_copy.jpg"
        assert members[1].startswith("  b.jpg  (same bytes as b_copy.jpg)")
        assert members[1].endswith("(file is gone: re-import its folder)")


class TestOneGroupEach(SimilarHelper):
    """16.10, 19.5: a photo is in one group; exact copies are exact everywhere."""

    def test_the_photo_kept_is_never_an_extra_of_another_group(self, scenes_dir, capsys,
                                                               monkeypatch):
        root = copy_tree(scenes_dir[0], self.photos_dir())
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        near = [g for g in groups(self.run_output(capsys, "similar-dupes", "-t", THRESHOLD,
                                                  "-f", "$filename"))]
        assert len(near) >= 4
        # A copy of an extra of one group, and of the photo kept in another.
        _, kept, members = near[0]
        extra = next(m[2:] for m in members if not m.startswith("* "))
        other_kept = near[1][1]
        shutil.copy(root / extra, root / "zz_copy.jpg")
        shutil.copy(root / other_kept, root / "aa_copy.jpg")
        self.run_command("similar-import", str(root))  # not featurized
        pictures = {sha(root / n) for n in os.listdir(root)}
        answer(monkeypatch, "yes")
        out = self.run_output(capsys, "similar-dupes", "-t", THRESHOLD, "--kind", "exact,near",
                              "--delete", "-f", "$filename")
        found = groups(out)
        names = [m[2:].split("  (")[0] for _, _, ms in found for m in ms]
        assert len(names) == len(set(names))  # every photo in one group
        for _, kept, members in found:
            for m in members:
                if m[2:].startswith(("zz_copy.jpg", "aa_copy.jpg")):
                    assert "(same bytes as " in m
        # What the listing keeps is still there; what it lists as extras is gone.
        left = set(os.listdir(root))
        assert {kept for _, kept, _ in found} <= left
        assert not left & {m[2:].split("  (")[0] for _, _, ms in found for m in ms
                           if not m.startswith("* ")}
        # Each picture kept in a group is still on the disk.
        assert {sha(root / kept) for _, kept, _ in found} <= {sha(root / n) for n in left}
        assert other_kept in left and pictures >= {sha(root / n) for n in left}

    def test_exact_copies_are_counted_alike_and_a_burst_stays_a_burst(self, capsys):
        root = self.photos_dir()
        base = samples.scene(21, (660, 500))
        for i in range(4):  # four frames of a burst, 0.3 s apart
            samples.save_photo(base.crop((2 * i, i, 640 + 2 * i, 480 + i)),
                               str(root / f"frame_{i}.jpg"), seed=5,
                               camera=("Canon", "Canon EOS R6"),
                               when=WHEN + timedelta(seconds=0.3 * i))
        shutil.copy(root / "frame_2.jpg", root / "frame_2 (1).jpg")
        self.config["similar"].set({**MODEL, "depth": 1})
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        out = self.run_output(capsys, "similar-dupes", "-t", "0.3", "-f", "$filename")
        [(kind, _, members)] = groups(out)
        assert kind == "burst" and len(members) == 5
        assert "    frame_2 (1).jpg  (same bytes as frame_2.jpg)" in out
        exact = self.run_output(capsys, "similar-dupes", "-e")
        phrase = "exact copies: 1 (same bytes as another photo, in 1 set)"
        assert phrase in out and phrase in exact and "1 group (1 exact)" in exact

    def test_the_name_that_is_not_a_copy_is_kept(self, capsys, monkeypatch):
        root = self.photos_dir()
        make(root, "DSC_1010.jpg", 1)
        shutil.copy(root / "DSC_1010.jpg", root / "DSC_1010 (1).jpg")
        make(root, "IMG_7.jpg", 2)
        shutil.copy(root / "IMG_7.jpg", root / "Copy of IMG_7.jpg")
        for name in os.listdir(root):
            os.utime(root / name, (1e9, 1e9))  # nothing else decides
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        first = {p.origname: p.id for p in photos(self.lib)}
        assert first["DSC_1010 (1).jpg"] < first["DSC_1010.jpg"]  # imported first
        out = self.run_output(capsys, "similar-dupes", "-e", "-f", "$filename")
        assert {kept for _, kept, _ in groups(out)} == {"DSC_1010.jpg", "IMG_7.jpg"}
        assert "keep DSC_1010.jpg: not a copy's name" in out
        answer(monkeypatch, "yes")
        self.run_command("similar-dupes", "-e", "--delete")
        assert sorted(os.listdir(root)) == ["DSC_1010.jpg", "IMG_7.jpg"]


class TestSettingsAndInterrupts(SimilarHelper):
    """16.13 and Ctrl-C (16.14): one line, not a traceback or silence."""

    def test_a_bad_sort_is_one_line(self, capsys):
        root = self.photos_dir()
        make(root, "a.jpg", 1)
        self.run_command("similar-import", str(root))
        self.config["similar"]["sort"] = "+"
        for command in ("similar-ls", "similar-order", "similar-dupes"):
            with pytest.raises(UserError, match=r"similar.sort '\+': '\+' is not a sort; .*"
                                                r"such as 'path\+'"):
                self.run_command(command)
        self.config["similar"]["sort"] = "taken- path+"
        assert self.run_output(capsys, "similar-ls", "-f", "$origname") == "a.jpg\n"


def test_bad_sort_on_the_command_line(tmp_path):
    beetsdir = write_config(tmp_path / "beets", "similar:\n  sort: '+'\n")
    proc = subprocess.run([sys.executable, "-m", "beets", "similar-ls"], env=beet_env(beetsdir),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: similar.sort '+': '+' is not a sort; give fields each followed by + or -, "
        "such as 'path+' or 'taken- path+'"]


def copies_with_sidecars(tmp_path):
    """a.jpg (kept: older) and copy.jpg, each with an identical sidecar,
    imported by the real command line."""
    root = tmp_path / "photos"
    root.mkdir()
    make(root, "a.jpg", 1)
    shutil.copy(root / "a.jpg", root / "copy.jpg")
    for name in ("a.xmp", "copy.xmp"):
        (root / name).write_text("<x:xmpmeta>edits</x:xmpmeta>")
    os.utime(root / "a.jpg", (1e9, 1e9))
    beetsdir = write_config(tmp_path / "beets", "similar:\n  weights: none\n"
                            "  model: mobilenet_v3_small\n")
    subprocess.run([sys.executable, "-m", "beets", "similar-import", str(root)],
                   env=beet_env(beetsdir), check=True, capture_output=True, timeout=300)
    return root, beetsdir


def test_a_fifo_beside_the_photo_kept_does_not_hang_a_delete(tmp_path):
    root, beetsdir = copies_with_sidecars(tmp_path)
    os.remove(root / "a.xmp")
    os.mkfifo(root / "a.xmp")  # nobody ever writes to it: reading it blocks
    proc = subprocess.run([sys.executable, "-m", "beets", "similar-dupes", "-e", "--delete"],
                          env=beet_env(beetsdir), input="yes\n", capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "deleted 1 exact copy" in proc.stdout
    # The sidecar of the deleted copy stays: its twin could not be compared.
    assert sorted(os.listdir(root)) == ["a.jpg", "a.xmp", "copy.xmp"]
    assert "copy.xmp: kept: the photo kept has no identical sidecar" in proc.stderr


@pytest.mark.slow
def test_ctrl_c_at_the_prompt_is_one_line_and_an_error(tmp_path):
    root, beetsdir = copies_with_sidecars(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "beets", "similar-dupes", "-e", "--delete"],
                            env=beet_env(beetsdir), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ctrl_c_as_in_a_terminal)
    seen = ""
    deadline = time.monotonic() + 120
    while "(yes/no)" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.read(1)  # the prompt waits for an answer
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)  # stdin stays open, as a terminal's does after Ctrl-C
    out, err = proc.communicate()
    assert "(yes/no)" in seen
    assert proc.returncode == 1
    assert err.strip().splitlines()[-1] == "error: similar-dupes interrupted; nothing was changed"
    assert sorted(os.listdir(root)) == ["a.jpg", "a.xmp", "copy.jpg", "copy.xmp"]
