"""Import on real files: a file given by itself, pairs, moved folders,
odd files (FIFOs), symbolic links to folders, raw-library noise, and
memory on huge images."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

from beetsplug.similar import samples
from beetsplug.similar.imaging import decode, pixels, scan
from beetsplug.similar.library import companions
from beetsplug.similar.library.photos import photos
from beetsplug.similar.parallel import ordered_try_map

from .conftest import SimilarHelper, run_beet, write_config

SIZE = (160, 120)


def beet(beetsdir, *args: str) -> subprocess.CompletedProcess:
    """The real command line, given a minute: a FIFO opened would hang it."""
    return subprocess.run([sys.executable, "-m", "beets", *args], capture_output=True,
                          text=True, timeout=60,
                          env=dict(os.environ, BEETSDIR=str(beetsdir), HOME=str(beetsdir)))


def shot_files(lib) -> dict[str, list[str]]:
    """{photo file name: its companions' names} as the library has them."""
    found = list(photos(lib))
    comps = companions.of(lib, [p.id for p in found])
    return {p.filepath.name: sorted(os.path.basename(c.path) for c in comps.get(p.id, []))
            for p in found}


def photo(folder, name: str, seed: int) -> str:
    path = str(folder / name)
    if name.upper().endswith(".DNG"):
        return samples.save_dng(samples.scene(seed, SIZE), path, seed=seed)
    return samples.save_photo(samples.scene(seed, SIZE), path, seed=seed)


class TestReimport(SimilarHelper):
    def test_a_file_given_alone_keeps_its_companions(self, capsys):
        root = self.photos_dir()
        photo(root, "img.jpg", 1)
        (root / "img.xmp").write_text("darktable\n")
        (root / "img.jpg.xmp").write_text("lightroom\n")
        photo(root, "other.jpg", 2)
        self.run_command("similar-import", str(root))
        assert shot_files(self.lib)["img.jpg"] == ["img.jpg.xmp", "img.xmp"]
        self.run_command("similar-import", str(root / "img.jpg"))
        assert shot_files(self.lib)["img.jpg"] == ["img.jpg.xmp", "img.xmp"]
        # So the next order takes them along.
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "depth": 1, "threshold": 0.01})
        self.run_command("similar-featurize")
        self.run_command("similar-order")
        rank = photos(self.lib, ["origname:img.jpg"]).get().rank
        assert sorted(n for n in os.listdir(root) if "img" in n) == [
            f"{rank:04d}-img.{e}" for e in ("jpg", "jpg.xmp", "xmp")]
        self.run_command("similar-order", "--clear")
        # Given alone the first time, it brings them too (and not its neighbour).
        for p in photos(self.lib):
            p.remove()
        out = self.run_output(capsys, "similar-import", str(root / "img.jpg"))
        assert "imported 1 new" in out
        assert shot_files(self.lib) == {"img.jpg": ["img.jpg.xmp", "img.xmp"]}
        # A sidecar given alone brings its photo.
        for p in photos(self.lib):
            p.remove()
        out = self.run_output(capsys, "similar-import", str(root / "img.jpg.xmp"))
        assert "imported 1 new" in out and "0 not images" in out
        assert shot_files(self.lib) == {"img.jpg": ["img.jpg.xmp", "img.xmp"]}

    def test_the_jpeg_of_a_pair_given_alone_is_no_row_of_its_own(self, capsys):
        root = self.photos_dir()
        photo(root, "IMG_1.DNG", 1)
        photo(root, "IMG_1.JPG", 1)
        (root / "IMG_1.xmp").write_text("edits\n")
        self.run_command("similar-import", str(root))
        before = shot_files(self.lib)
        assert before == {"IMG_1.DNG": ["IMG_1.JPG", "IMG_1.xmp"]}
        out = self.run_output(capsys, "similar-import", str(root / "IMG_1.JPG"))
        assert "0 new" in out
        assert shot_files(self.lib) == before
        # Even with rawpy gone (the RAW pairs with nothing), a known
        # companion is never made a photo row.
        from beetsplug.similar.imaging import shots as shots_module

        real = shots_module.shots
        try:
            shots_module.shots = lambda files, sidecars=shots_module.SIDECARS: real(
                files, sidecars, pair_raws=False)
            import beetsplug.similar.library.photos as photos_module

            photos_module.shots = shots_module.shots
            self.run_command("similar-import", str(root / "IMG_1.JPG"))
        finally:
            photos_module.shots = real
            shots_module.shots = real
        assert [p.filepath.name for p in photos(self.lib)] == ["IMG_1.DNG"]

    def test_a_jpeg_row_joins_its_raw_imported_later(self, capsys):
        root = self.photos_dir()
        photo(root, "IMG_1.JPG", 1)
        photo(root, "IMG_2.JPG", 2)
        self.run_command("similar-import", str(root))
        jpeg = photos(self.lib, ["origname:IMG_1.JPG"]).get()
        jpeg.rank = 7
        jpeg["label"] = "keep"
        jpeg.store()
        with self.lib.transaction() as tx:
            tx.mutate("INSERT INTO similar_features (photo_id, model, dim, dtype, scale, "
                      "vector, hash) VALUES (?, 'm', 2, 'float32', 1.0, ?, ?)",
                      (jpeg.id, np.ones(2, np.float32).tobytes(), jpeg.hash))
        photo(root, "IMG_1.DNG", 1)  # the RAW, copied from the card later
        out = self.run_output(capsys, "similar-import", str(root))
        assert "1 new" in out and "1 photo is now a companion of another" in out
        assert shot_files(self.lib) == {"IMG_1.DNG": ["IMG_1.JPG"], "IMG_2.JPG": []}
        raw = photos(self.lib, ["origname:IMG_1.DNG"]).get()
        assert raw.rank == 7 and raw["label"] == "keep"  # the shot keeps its place
        with self.lib.transaction() as tx:
            rows = tx.query("SELECT photo_id, hash FROM similar_features")
        # The JPEG's vector now stands for the shot, and is redone at the
        # next featurize (its hash is the JPEG's).
        assert [tuple(r) for r in rows] == [(raw.id, jpeg.hash)]
        for p in photos(self.lib):  # nothing points at a missing file
            assert os.path.isfile(p.path)


    def test_a_jpeg_row_stays_when_its_raw_cannot_be_read(self, capsys):
        root = self.photos_dir()
        photo(root, "IMG_1.JPG", 1)
        self.run_command("similar-import", str(root))
        data = open(photo(self.photos_dir("card"), "IMG_1.DNG", 1), "rb").read()
        (root / "IMG_1.DNG").write_bytes(data[: len(data) // 2])  # a truncated copy
        out = self.run_output(capsys, "similar-import", str(root))
        assert "1 skipped" in out and "companions of another" not in out
        assert [p.filepath.name for p in photos(self.lib, ["origname:IMG_1.JPG"])] == [
            "IMG_1.JPG"]


def tree(root) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, files in os.walk(root) for f in files)


class TestMovedFolder(SimilarHelper):
    def test_a_renamed_folder_moves_its_rows(self, capsys):
        root = self.photos_dir()
        trip = root / "trip"
        trip.mkdir()
        for i in range(3):
            photo(trip, f"img_{i}.jpg", i)
        shutil.copyfile(trip / "img_0.jpg", root / "copy_of_0.jpg")  # an exact copy elsewhere
        (trip / "img_1.xmp").write_text("edits\n")
        self.run_command("similar-import", str(root))
        ids = {p.filepath.name: p.id for p in photos(self.lib)}
        os.rename(trip, root / "trip-2021")
        out = self.run_output(capsys, "similar-import", str(root))
        assert "imported 0 new" in out and "3 moved" in out
        found = {p.filepath.name: p for p in photos(self.lib)}
        assert {n: p.id for n, p in found.items()} == ids
        for p in found.values():
            assert os.path.isfile(p.path), p.path
        assert os.path.dirname(found["img_1.jpg"].path) == str(root / "trip-2021").encode()
        assert shot_files(self.lib)["img_1.jpg"] == ["img_1.xmp"]
        comps = companions.of(self.lib, [found["img_1.jpg"].id])
        assert os.path.isfile(comps[found["img_1.jpg"].id][0].path)

    def test_rows_whose_file_is_gone_are_reported_then_forgotten(self, capsys):
        root = self.photos_dir()
        for i in range(3):
            photo(root, f"img_{i}.jpg", i)
        self.run_command("similar-import", str(root))
        os.remove(root / "img_2.jpg")
        out = self.run_output(capsys, "similar-import", str(root))
        line = [x for x in out.splitlines() if "missing" in x]
        assert line == [f"1 photo in the library is missing from disk (first: "
                        f"{root / 'img_2.jpg'}): import the folder it was moved to, or "
                        f"forget it with `beet similar-import --forget-missing {root}`"]
        assert len(list(photos(self.lib))) == 3  # not forgotten unless asked
        out = self.run_output(capsys, "similar-import", "--forget-missing", str(root))
        assert "forgot 1 photo whose file is gone" in out
        assert sorted(p.filepath.name for p in photos(self.lib)) == ["img_0.jpg", "img_1.jpg"]
        assert tree(root) == ["img_0.jpg", "img_1.jpg"]


def dated(folder, name: str, seed: int, when: str) -> str:
    """A photo whose EXIF says it was taken ``when`` (EXIF's own text)."""
    exif = samples.exif_for(seed)
    exif[0x0132] = exif.get_ifd(0x8769)[0x9003] = when
    path = str(folder / name)
    samples.scene(seed, SIZE).save(path, exif=exif)
    return path


@pytest.fixture
def east_of_utc(monkeypatch):
    """Local time nine hours ahead of UTC, as in Tokyo."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class TestDates(SimilarHelper):
    def test_dates_past_either_end_of_the_calendar_are_unknown(self, capsys, east_of_utc):
        root = self.photos_dir()
        dated(root, "unset.jpg", 1, "0001:01:01 00:00:00")  # a camera's unset clock
        dated(root, "last.jpg", 2, "9999:12:31 23:59:59")  # year 10000 in UTC
        dated(root, "good.jpg", 3, "2021:06:05 10:11:12")
        out = self.run_output(capsys, "similar-import", str(root))
        assert "imported 3 new" in out
        taken = {p.filepath.name: (p.taken, p.year) for p in photos(self.lib)}
        assert taken["unset.jpg"] == taken["last.jpg"] == (0.0, 0)
        assert taken["good.jpg"][1] == 2021
        assert self.run_output(capsys, "similar-ls", "-f", "$filename [$taken]",
                               "unset.jpg").strip() == "unset.jpg []"


class TestHidden(SimilarHelper):
    def test_hidden_photos_are_counted_and_imported_when_asked(self, capsys):
        root = self.photos_dir()
        photo(root, "A.JPG", 1)
        photo(root, ".B.JPG", 2)
        photo(root / ".private", "C.JPG", 3)
        (root / "._A.JPG").write_bytes(b"\0\5\26\7 AppleDouble")  # macOS metadata
        (root / ".DS_Store").write_bytes(b"\0")
        out = self.run_output(capsys, "similar-import", str(root))
        assert out.splitlines()[-1] == (
            "imported 1 new, 0 updated, 0 unchanged, 0 skipped (bad files), 0 not images, "
            "2 hidden photos passed over (a name or folder starting with a dot; --hidden "
            "imports them)")
        out = self.run_output(capsys, "similar-import", "--hidden", str(root))
        assert out.splitlines()[-1] == ("imported 2 new, 0 updated, 1 unchanged, 0 skipped "
                                        "(bad files), 1 not an image")  # .DS_Store
        assert sorted(p.filepath.name for p in photos(self.lib)) == [".B.JPG", "A.JPG", "C.JPG"]
        # Once in the library, they are not counted again, nor missing.
        out = self.run_output(capsys, "similar-import", str(root))
        assert "hidden" not in out and "missing" not in out and "1 unchanged" in out
        assert len(photos(self.lib)) == 3


class TestOddFiles(SimilarHelper):
    def test_walk_follows_links_to_folders_once_and_not_in_loops(self, capsys):
        root = self.photos_dir()
        elsewhere = self.photos_dir("elsewhere")
        photo(root, "a.jpg", 1)
        photo(elsewhere / "sub", "b.jpg", 2)
        os.symlink(elsewhere, root / "linked")
        os.symlink(root, root / "linked" / "back")  # a loop: back to the top
        os.symlink(".", root / "self")  # a loop: itself
        walked = list(scan.walk_files([str(root)]))
        assert walked == [str(root / "a.jpg"), str(elsewhere / "sub" / "b.jpg")]
        out = self.run_output(capsys, "similar-import", str(root))
        assert "imported 2 new" in out

    def test_fifos_are_never_opened(self, tmp_path):
        root = tmp_path / "photos"
        root.mkdir()
        photo(root, "a.jpg", 1)
        os.mkfifo(root / "a.xmp")  # a sidecar that is a pipe
        os.mkfifo(root / "b.DNG")  # a RAW that is a pipe: LibRaw would wait forever
        os.mkfifo(root / "c.jpg")
        beetsdir = write_config(tmp_path / "beets")
        for target in (root / "a.jpg", root / "b.DNG", root):
            try:
                proc = beet(beetsdir, "similar-import", str(target))
            except subprocess.TimeoutExpired:
                pytest.fail(f"similar-import {target} hung on a FIFO")
            assert proc.returncode == 0, proc.stderr
        for name in ("a.xmp", "b.DNG", "c.jpg"):
            lines = [x for x in proc.stderr.splitlines() if name in x]
            assert lines == [f"similar: skipped {root / name}: a named pipe (FIFO), not a photo "
                             "file; not opened (move it out of the photo folders)"], proc.stderr
        assert "3 not regular files" in proc.stdout
        listed = run_beet(beetsdir, "similar-ls", "-f", "$filename $formats").stdout
        assert listed.split("\n")[0] == "a.jpg JPG"  # the pipe is no companion

    def test_a_truncated_raw_says_one_line_and_libraw_nothing(self, tmp_path):
        root = tmp_path / "photos"
        root.mkdir()
        data = open(photo(root, "good.DNG", 1), "rb").read()
        (root / "cut.DNG").write_bytes(data[: len(data) * 2 // 3])
        beetsdir = write_config(tmp_path / "beets")
        proc = run_beet(beetsdir, "similar-import", str(root))
        assert "imported 1 new" in proc.stdout and "1 skipped" in proc.stdout
        assert proc.stderr.splitlines() == [
            f"similar: skipped {root / 'cut.DNG'}: corrupt or truncated RAW (LibRaw: "
            "unexpected end of file) (re-copy it from the camera)"]


class TestHugeImages:
    def test_no_bomb_warning_below_max_pixels(self, tmp_path):
        """Pillow warns past MAX_IMAGE_PIXELS, as for 100-170 MP photos under
        max_pixels (the plugin sets it to half of that); our max_pixels
        decides. Read with threads and decoded for calibration (whose
        augmented copies are re-encoded and opened again), nothing is said.
        A script, to see the warnings filters a real run has."""
        script = tmp_path / "bomb.py"
        script.write_text(textwrap.dedent(f"""\
            import numpy as np
            from PIL import Image
            from beetsplug.similar import samples
            from beetsplug.similar.calibration import augment
            from beetsplug.similar.imaging import decode, scan
            Image.MAX_IMAGE_PIXELS = 100_000  # the photos have 190,000
            paths = [samples.save_photo(samples.scene(i, (500, 380)), f"{tmp_path}/{{i}}.png",
                                        seed=i) for i in range(4)]
            for i, path in enumerate(paths * 3):
                img = decode.open_upright(path, 64, 10 ** 6)
                augment.light(img, np.random.default_rng(i))
            for _, _, error in scan.read_records(paths * 6, 10 ** 6, threads=4):
                assert error is None, error
            print("done")
            """))
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=300)
        assert proc.stdout == "done\n" and proc.stderr == ""


    def test_a_huge_png_is_decoded_reduced_and_upright(self, tmp_path):
        img = samples.scene(3, (2400, 1600))
        path = samples.save_photo(img, str(tmp_path / "big.png"), seed=3, orientation=6)
        out = decode.open_upright(path, 224)
        # Reduced by a whole factor (7) keeping 224 on the short side, turned upright.
        assert out.size == (229, 343) and out.mode == "RGB"
        expected = np.asarray(img.reduce(7).transpose(Image.Transpose.ROTATE_270), np.float32)
        assert np.abs(np.asarray(out, np.float32) - expected).mean() < 1.0
        small = decode.open_upright(path, 2000)  # no reduction when it would go below
        assert small.size == (1600, 2400)

    @pytest.mark.slow
    def test_pixels_in_flight_are_bounded(self, tmp_path, monkeypatch):
        budget = pixels.PixelBudget(3_000_000)
        monkeypatch.setattr(decode, "PIXELS", budget)
        paths = [samples.save_photo(samples.scene(i, (1600, 1200)), str(tmp_path / f"{i}.png"),
                                    seed=i) for i in range(6)]
        results = list(ordered_try_map(lambda p: decode.load_for_model(p, (64, 64)), paths,
                                       workers=4, prefetch=8, catch=Exception))
        assert [e for _, _, e in results] == [None] * 6
        assert budget.peak == 1600 * 1200 and budget.held == 0  # one at a time
        Image.new("L", (2000, 2000), 7).save(tmp_path / "huge.png")  # over the limit alone
        assert decode.load_for_model(str(tmp_path / "huge.png"), (64, 64)).shape == (64, 64, 3)
        assert budget.peak == 2000 * 2000


def test_import_help_says_photos_stay_where_they_are(tmp_path):
    beetsdir = write_config(tmp_path / "beets")
    out = run_beet(beetsdir, "help").stdout
    line = next(x for x in out.splitlines() if "similar-import" in x)
    assert "they stay where they are" in line
    assert "--forget-missing" in run_beet(beetsdir, "similar-import", "-h").stdout
