"""Photographers' files: RAW photos (real DNGs written here), RAW+JPEG
pairs, Live Photos and sidecars that follow their photo everywhere."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from beetsplug.similar import samples
from beetsplug.similar.imaging import decode, raw, shots
from beetsplug.similar.imaging.decode import ImageError
from beetsplug.similar.library import companions
from beetsplug.similar.library.photos import photos

from .conftest import SimilarHelper, featurized_library, run_beet
from .test_order_command import CRASHING_BEET, tree_state
from .test_safety import assert_consistent

SIZE = (320, 240)


def make_shoot(root) -> dict[str, list[str]]:
    """A camera folder: {photo file: its companions}. Every scene has a
    near-duplicate JPEG of its own, so the library has groups to order."""
    root.mkdir(parents=True, exist_ok=True)
    layout: dict[str, list[str]] = {}

    def photo(name: str, seed: int, *extra: str, img=None) -> None:
        img = img or samples.scene(seed, SIZE)
        path = str(root / name)
        if name.upper().endswith(".DNG"):
            samples.save_dng(img, path, seed=seed)
        else:
            samples.save_photo(img, path, seed=seed)
        for e in extra:
            target = root / e
            if e.upper().endswith((".JPG", ".HEIC")):
                samples.save_photo(img, str(target), seed=seed)
            else:
                target.write_text(f"edits of {name} in {e}\n")
        layout[name] = list(extra)

    photo("IMG_0001.DNG", 1, "IMG_0001.DNG.xmp")  # darktable
    photo("IMG_0002.DNG", 2, "IMG_0002.JPG", "IMG_0002.xmp", "IMG_0002.pp3")  # Lightroom, RawTherapee
    photo("IMG_0003.DNG", 3, "IMG_0003.JPG", "IMG_0003.DNG.dop")  # DxO
    photo("IMG_0004.HEIC", 4, "IMG_0004.MOV", "IMG_0004.AAE")  # a Live Photo, Apple edits
    photo("IMG_0005.JPG", 5, "IMG_0005.on1")
    photo("IMG_0006.JPG", 6, "IMG_0006.ARP")  # upper case: still a sidecar
    for seed in range(1, 7):  # a retake of each scene, a plain JPEG
        photo(f"RETAKE_{seed}.jpg", seed, img=samples.variant(samples.scene(seed, SIZE),
                                                              "cropped", seed))
    (root / "IMG_0004.MOV").write_bytes(b"\x00\x00\x00\x18ftypqt  not really a movie")
    return layout


def shot_files(lib) -> dict[str, list[str]]:
    """{photo file name: its companions' names} as the library has them."""
    found = list(photos(lib))
    comps = companions.of(lib, [p.id for p in found])
    return {p.filepath.name: sorted(os.path.basename(c.path) for c in comps.get(p.id, []))
            for p in found}


def assert_follow(lib, root, before: dict[str, str]) -> None:
    """Every companion sits beside its photo with the photo's stem; the
    folder holds the same bytes as before; the library points at them."""
    assert sorted(tree_state(root).values()) == sorted(before.values())
    assert_consistent(lib, root)
    found = list(photos(lib))
    comps = companions.of(lib, [p.id for p in found])
    for p in found:
        stem = os.path.splitext(p.filepath.name)[0]
        for c in comps.get(p.id, []):
            assert os.path.isfile(c.path), c.path
            assert os.path.dirname(c.path) == os.path.dirname(p.filepath)
            assert os.path.basename(c.path).startswith(stem + "."), (c.path, stem)


def test_shots_group_pairs_and_sidecars():
    names = ["a.CR2", "a.JPG", "a.CR2.xmp", "a.xmp", "b.HEIC", "b.MOV", "b.aae", "c.jpg",
             "c.png", "d.NEF", "notes.txt", "e.MOV", "f.XMP"]
    found, others = shots.shots([f"/p/{n}" for n in names], pair_raws=True)
    got = {os.path.basename(s.photo): sorted((os.path.basename(p), k) for p, k in s.companions)
           for s in found}
    assert got == {
        "a.CR2": [("a.CR2.xmp", "sidecar"), ("a.JPG", "pair"), ("a.xmp", "sidecar")],
        "b.HEIC": [("b.MOV", "pair"), ("b.aae", "sidecar")],
        "c.jpg": [], "c.png": [],  # two plain images are not a pair
        "d.NEF": [],
    }
    assert [os.path.basename(o) for o in others] == ["e.MOV", "f.XMP", "notes.txt"]
    # Without rawpy a RAW pairs with nothing: its JPEG stays a photo.
    found, _ = shots.shots(["/p/a.CR2", "/p/a.JPG"], pair_raws=False)
    assert sorted(os.path.basename(s.photo) for s in found) == ["a.CR2", "a.JPG"]


def test_real_dng_reads_like_a_camera_file(tmp_path):
    path = samples.save_dng(samples.scene(7, (400, 300)), str(tmp_path / "x.DNG"), seed=7,
                            orientation=6)
    info = decode.read_info(path)
    assert (info.width, info.height, info.orientation, info.format) == (300, 400, 6, "DNG")
    assert info.make and info.model and info.taken is not None
    upright = decode.open_upright(path, 100)
    assert upright.size[1] > upright.size[0]  # turned as the camera was held
    (tmp_path / "broken.DNG").write_bytes(open(path, "rb").read()[:2000])
    with pytest.raises(ImageError, match="broken.DNG: .*(corrupt|not a RAW)"):
        decode.read_info(str(tmp_path / "broken.DNG"))


def test_without_rawpy_a_raw_says_what_to_install(tmp_path, monkeypatch):
    path = samples.save_dng(samples.scene(7, (64, 48)), str(tmp_path / "x.NEF"), seed=7)
    monkeypatch.setattr(raw, "RAW_SUPPORTED", False)
    with pytest.raises(ImageError) as error:
        decode.read_info(path)
    assert str(error.value) == (f"{path}: a RAW photo, and rawpy is not installed "
                                "(pip install 'beets-similar[raw]')")


class TestShoot(SimilarHelper):
    def prepare(self):
        root = self.photos_dir("shoot")
        layout = make_shoot(root)
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "depth": 1, "threshold": 0.01})
        return root, layout

    def test_import_featurize_order_clear_undo_move(self, capsys, monkeypatch):
        root, layout = self.prepare()
        before = tree_state(root)
        out = self.run_output(capsys, "similar-import", str(root))
        assert "imported 12 new" in out and "0 skipped" in out
        assert shot_files(self.lib) == {k: sorted(v) for k, v in layout.items()}
        assert_follow(self.lib, root, before)
        # Queries and templates see the shot's formats.
        listed = self.run_output(capsys, "similar-ls", "has_raw:1", "-f", "$filename $formats")
        assert listed.splitlines() == ["IMG_0001.DNG DNG XMP", "IMG_0002.DNG DNG JPG PP3 XMP",
                                       "IMG_0003.DNG DNG JPG DOP"]
        assert self.run_output(capsys, "similar-ls", "format:HEIF", "-f",
                               "$formats").strip() == "HEIC AAE MOV"
        out = self.run_output(capsys, "similar-featurize")
        assert "featurized 12 with" in out and "0 skipped" in out
        # A pair is one photo: never a duplicate of itself.
        dupes = self.run_output(capsys, "similar-dupes", "-f", "$filename")
        assert "IMG_0002.JPG" not in dupes and "IMG_0003.JPG" not in dupes
        page = self.temp_path / "report.html"
        self.run_command("similar-report", "--all", "-o", str(page))
        html = page.read_text()
        assert html.count('class="card"') == 12  # one card per shot
        assert "IMG_0002.DNG (DNG JPG PP3 XMP)" in html and "IMG_0004.HEIC (HEIC AAE MOV)" in html

        out = self.run_output(capsys, "similar-order")
        assert "renamed 12 photos (" in out
        assert_follow(self.lib, root, before)
        names = set(os.listdir(root))
        assert not {"IMG_0002.JPG", "IMG_0001.DNG.xmp"} & names
        self.run_command("similar-order", "--clear")
        assert tree_state(root) == before
        assert_follow(self.lib, root, before)
        self.run_command("similar-order")
        self.run_command("similar-undo")
        assert tree_state(root) == before

        # An exact copy of a shot, with its own files, moves with all of them.
        for name in ("IMG_0002.DNG", "IMG_0002.JPG", "IMG_0002.xmp"):
            (root / name.replace("IMG", "COPY")).write_bytes((root / name).read_bytes())
        os.utime(root / "IMG_0002.DNG", (1e9, 1e9))  # older: the one kept
        before = tree_state(root)
        self.run_command("similar-import", str(root))
        self.run_command("similar-dupes", "-e", "--move")
        moved = sorted(os.listdir(root / "duplicates"))
        assert moved == ["COPY_0002.DNG", "COPY_0002.JPG", "COPY_0002.xmp"]
        assert_follow(self.lib, root, before)
        self.run_command("similar-undo")
        assert tree_state(root) == before
        # Deleting it deletes the companions the kept shot has identically.
        (root / "COPY_0002.xmp").write_text("my own edits of the copy\n")
        before_delete = tree_state(root)
        self.run_command("similar-import", str(root))
        monkeypatch.setattr("builtins.input", lambda *a: "yes")
        out = self.run_output(capsys, "similar-dupes", "-e", "--delete")
        assert "Companion files of 1 of them" in out
        left = set(os.listdir(root))
        assert "COPY_0002.DNG" not in left and "COPY_0002.JPG" not in left
        assert (root / "COPY_0002.xmp").read_text() == "my own edits of the copy\n"
        assert len(before_delete) - len(tree_state(root)) == 2

    def test_a_taken_companion_name_is_reported_and_the_shot_stays_whole(self, caplog):
        root, _ = self.prepare()
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        self.run_command("similar-order", "--no-rename")
        rank = photos(self.lib, ["origname:IMG_0002.DNG"]).get().rank
        squatter = root / f"{rank:04d}-IMG_0002.xmp"  # taken before the run: a suffix
        squatter.write_text("someone else's")
        self.run_command("similar-order")
        assert squatter.read_text() == "someone else's"
        mine = sorted(n for n in os.listdir(root) if "IMG_0002" in n and n != squatter.name)
        assert mine == [f"{rank:04d}-IMG_0002.1.{e}" for e in ("DNG", "JPG", "pp3", "xmp")]
        assert any(f"{squatter.name} is taken by a file outside the library; named "
                   f"{rank:04d}-IMG_0002.1.DNG instead" in r.getMessage() for r in caplog.records)

    def test_a_companion_name_taken_during_the_run_moves_nothing_of_it(self, monkeypatch,
                                                                       caplog):
        root, _ = self.prepare()
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        before = tree_state(root)
        from beetsplug.similar.rename import journal

        real_perform, squatted = journal.perform, []

        def perform(src, dst, *args):
            name = os.path.basename(dst)
            if name.endswith("-IMG_0002.pp3") and not squatted:
                squatted.append(dst)
                open(dst, "w").write("someone else's")  # taken meanwhile
            return real_perform(src, dst, *args)

        monkeypatch.setattr(journal, "perform", perform)
        self.run_command("similar-order")
        assert open(squatted[0]).read() == "someone else's"
        names = set(os.listdir(root))
        assert {"IMG_0002.DNG", "IMG_0002.JPG", "IMG_0002.xmp", "IMG_0002.pp3"} <= names
        assert any("already exists" in r.getMessage() for r in caplog.records)
        os.remove(squatted[0])
        assert_follow(self.lib, root, before)
        monkeypatch.setattr(journal, "perform", real_perform)
        self.run_command("similar-undo")
        assert tree_state(root) == before

    def test_joined_rows_and_new_sidecars(self, capsys):
        root, _ = self.prepare()
        (root / "IMG_0005.on1").unlink()
        self.run_command("similar-import", str(root / "IMG_0005.JPG"))
        (root / "IMG_0005.on1").write_text("edited later\n")
        out = self.run_output(capsys, "similar-import", str(root))
        assert shot_files(self.lib)["IMG_0005.JPG"] == ["IMG_0005.on1"]
        # A JPEG imported on its own becomes its RAW's companion.
        assert "photos are now companions of another" not in out
        with self.lib.transaction() as tx:
            tx.mutate("DELETE FROM similar_companions")
        from beetsplug.similar.library.models import Photo

        jpeg = Photo(self.lib, **samples_record(root / "IMG_0002.JPG"))
        jpeg.add(self.lib)
        out = self.run_output(capsys, "similar-import", str(root))
        assert "1 photo is now a companion of another" in out
        assert "IMG_0002.JPG" in shot_files(self.lib)["IMG_0002.DNG"]
        assert "IMG_0002.JPG" not in shot_files(self.lib)


def samples_record(path) -> dict:
    from beetsplug.similar.imaging.scan import read_record

    return read_record(str(path))


@pytest.mark.slow
def test_killed_mid_rename_companions_resume_and_undo(tmp_path):
    root = tmp_path / "shoot"
    make_shoot(root)
    original = tree_state(root)
    beetsdir = featurized_library(tmp_path, root, "{weights: none, model: mobilenet_v3_small, "
                                                  "depth: 1, threshold: 0.01}")
    script = tmp_path / "crashing_beet.py"
    script.write_text(CRASHING_BEET)
    env = dict(os.environ, BEETSDIR=str(beetsdir), HOME=str(beetsdir), CRASH_AFTER_LINKS="12")
    proc = subprocess.run([sys.executable, str(script), "similar-order"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9
    run_beet(beetsdir, "similar-order", "--resume")
    state = tree_state(root)
    assert sorted(state.values()) == sorted(original.values())
    prefixed = {n[5:] for n in state if n[:4].isdigit()}
    assert prefixed == set(original)  # every file, companions too, has its prefix
    for name in state:  # each companion has its photo's prefix
        if name.endswith((".xmp", ".JPG", ".pp3", ".dop", ".MOV", ".AAE", ".on1", ".ARP")):
            stem = name.split(".")[0]
            assert any(other.startswith(stem + ".") and other != name for other in state)
    run_beet(beetsdir, "similar-undo")
    assert tree_state(root) == original


def test_hash_of_files_unchanged_by_reading(tmp_path):
    """Reading a DNG for import and features never writes to it."""
    path = samples.save_dng(samples.scene(9, SIZE), str(tmp_path / "a.DNG"), seed=9)
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    decode.read_info(path)
    decode.load_for_model(path, (224, 224))
    assert hashlib.sha256(open(path, "rb").read()).hexdigest() == digest
