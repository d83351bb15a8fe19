"""Which photo to keep, and which shots are one burst: the quality score,
the keeper rules and the kinds of groups, on generated photos."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from beets.exceptions import UserError
from PIL import ImageEnhance, ImageFilter

from beetsplug.similar import samples
from beetsplug.similar.imaging.decode import to_model_input
from beetsplug.similar.keep import score
from beetsplug.similar.keep.measure import measure
from beetsplug.similar.keep.rules import Keeper, KeepRuleError
from beetsplug.similar.library.photos import photos

from .conftest import SimilarHelper

MODEL = {"weights": "none", "model": "mobilenet_v3_small", "depth": 1}
WHEN = datetime(2022, 7, 14, 18, 30, 0)


def blurred(img):
    return img.filter(ImageFilter.GaussianBlur(3))


def overexposed(img):
    return ImageEnhance.Brightness(img).enhance(2.2)


def test_measures_see_blur_and_clipping_not_size():
    img = samples.scene(0, (640, 480))
    m = lambda im: measure(to_model_input(im, (224, 224)))  # noqa: E731
    sharp, soft = m(img), m(blurred(img))
    assert soft.sharpness < 0.5 * sharp.sharpness
    assert m(overexposed(img)).exposure < 0.7 and sharp.exposure == 1.0
    assert abs(m(img.resize((320, 240))).sharpness - sharp.sharpness) < 0.05


def test_format_rank_prefers_originals():
    ranks = [score.format_rank(f) for f in ("DNG", "CR2", "HEIF", "JPEG", "PNG", "XYZ")]
    assert ranks[0] == ranks[1] == 1.0 and ranks[1] > ranks[2] > ranks[3] > ranks[4] > 0
    assert ranks[5] == 0.0
    assert score.format_rank("PNG", ["PNG", "JPEG"]) == 1.0  # configurable


def test_a_lead_of_the_margin_decides_whatever_the_floats(monkeypatch):
    """0.268 vs 0.218 and 0.2708 vs 0.2208 are the same lead (an edit):
    both decide alike, not one by float rounding and the other by age."""
    from types import SimpleNamespace

    from beetsplug.similar.keep import rules, score

    for top, other in ((0.268, 0.218), (0.2708, 0.2208)):
        quality = {1: other, 2: top}

        def parts(photo, formats, quality=quality):
            fields = dict.fromkeys(score.WEIGHTS, 0.0)
            fields["edits"] = 1.0 if quality[photo.id] > 0.25 else 0.0
            return SimpleNamespace(quality=quality[photo.id], **fields)

        monkeypatch.setattr(score, "parts", parts)
        monkeypatch.setattr(score, "quality",
                            lambda photo, formats, quality=quality: quality[photo.id])
        photos = [SimpleNamespace(id=1), SimpleNamespace(id=2)]
        kept, reason, figures = rules.Keeper(["quality"], score.FORMATS)._quality(photos)
        assert [p.id for p in kept] == [2] and reason == "edited", (top, other)
        assert figures == "an edit history (sidecar) beside it"


def test_bad_rules_are_errors(tmp_path):
    with pytest.raises(KeepRuleError, match="no rules, so nothing would be kept"):
        Keeper([])
    with pytest.raises(KeepRuleError, match="unknown rule 'biggest'"):
        Keeper(["biggest"])
    with pytest.raises(KeepRuleError, match="path:/nowhere/at/all: no such folder"):
        Keeper(["path:/nowhere/at/all", "quality"])


class TestKeeper(SimilarHelper):
    def library(self, files: dict, extra_scenes: int = 0, **config):
        """Write ``files`` ({name: (image, exif fields)}), import, featurize."""
        root = self.photos_dir()
        for name, (img, fields) in files.items():
            path = str(root / name)
            if name.lower().endswith(".dng"):
                samples.save_dng(img, path, seed=fields.get("seed", 1), when=fields.get("when"))
            else:
                samples.save_photo(img, path, **{"seed": 1, **fields})
        for i in range(extra_scenes):  # unrelated photos, for calibration
            samples.save_photo(samples.scene(100 + i, (320, 240)), str(root / f"other_{i}.jpg"),
                               seed=100 + i)
        self.config["similar"].set({**MODEL, **config})
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        return root

    def groups(self, capsys, *args) -> list[tuple[str, str, str, list[str]]]:
        """[(kind, kept, reason, members)] from similar-dupes."""
        out = self.run_output(capsys, "similar-dupes", "-f", "$filename", *args)
        return [(kind, kept, reason, [line[4:] for line in body.splitlines()])
                for kind, kept, reason, body in re.findall(
                    r"group \d+: (\w+), \d+ photos; keep (\S+): ([^\n]+)\n((?:  .*\n)+)", out)]

    def test_sharp_original_beats_blurred_downscaled_and_overexposed(self, capsys):
        img = samples.scene(11, (640, 480))
        self.library({"original.jpg": (img, {}), "blurred.jpg": (blurred(img), {}),
                      "small.jpg": (img.resize((320, 240)), {}),
                      "bright.jpg": (overexposed(img), {})})
        [(kind, kept, reason, members)] = self.groups(capsys, "-t", "0.3")
        assert sorted(members) == ["blurred.jpg", "bright.jpg", "original.jpg", "small.jpg"]
        assert kept == "original.jpg"
        # what decided, with its figures: the small copy is as sharp (the
        # quality rule leaves both), and the larger wins
        assert reason == "larger (640x480 against 320x240)", reason
        q = {p.origname: p.quality for p in photos(self.lib)}
        assert q["original.jpg"] > max(q["blurred.jpg"], q["bright.jpg"])
        assert self.run_output(capsys, "similar-ls", "quality:..0.5", "-f", "$filename").split() \
            == sorted(n for n, v in q.items() if v <= 0.5)

    def test_raw_original_beats_its_jpeg_export(self, capsys):
        img = samples.scene(12, (960, 720))  # half size still covers the network's input
        self.library({"IMG_0001.DNG": (img, {"seed": 3, "when": WHEN}),
                      "holiday_export.jpg": (img, {"seed": 3, "when": WHEN})})
        [(_, kept, reason, members)] = self.groups(capsys, "-t", "0.3")
        assert kept == "IMG_0001.DNG" and reason == "RAW original (DNG against JPEG)"

    def test_reference_folder_always_wins(self, capsys, monkeypatch):
        img = samples.scene(13, (640, 480))
        root = self.photos_dir()
        ref = root / "reference"
        samples.save_photo(blurred(img), str(ref / "ref.jpg"), seed=1)
        self.library({"original.jpg": (img, {}), "copy.jpg": (img.resize((480, 360)), {})},
                     keep=[f"path:{ref}", "quality", "largest"])
        [(_, kept, reason, members)] = self.groups(capsys, "-t", "0.3")
        assert kept == "ref.jpg" and reason == f"in {ref}"
        # Even when the rules' order puts it later, it is never an extra.
        self.config["similar"]["keep"] = ["quality", f"path:{ref}"]
        monkeypatch.setattr("builtins.input", lambda *a: "no")
        with pytest.raises(UserError, match="nothing deleted"):
            self.run_command("similar-dupes", "-t", "0.3", "--kind", "near", "--delete")
        assert (ref / "ref.jpg").exists()
        self.config["similar"]["keep"] = []
        with pytest.raises(UserError, match="nothing would be kept"):
            self.run_command("similar-dupes", "-t", "0.3")

    def frames(self, cameras):
        """Six frames of one scene, 0.3 s apart, a pixel or two apart."""
        base = samples.scene(21, (660, 500))
        files = {}
        for i, camera in enumerate(cameras):
            frame = base.crop((2 * i, i, 640 + 2 * i, 480 + i))
            files[f"frame_{i}.jpg"] = (frame, {
                "seed": 5, "camera": camera,
                "when": WHEN + timedelta(seconds=0.3 * (5 - i))})  # named against time
        return files

    def test_six_frames_from_one_camera_are_a_burst_in_capture_order(self, capsys):
        self.library(self.frames([("Canon", "Canon EOS R6")] * 6))
        [(kind, _, _, members)] = self.groups(capsys, "-t", "0.3")
        assert kind == "burst" and len(members) == 6
        self.run_command("similar-order", "-t", "0.3", "--no-rename")
        by_rank = [p.origname for p in photos(self.lib, ["rank+"])]
        assert by_rank == [f"frame_{i}.jpg" for i in (5, 4, 3, 2, 1, 0)]  # capture order

    def test_the_same_frames_from_two_cameras_are_not(self, capsys):
        cameras = [("Canon", "Canon EOS R6"), ("NIKON CORPORATION", "NIKON Z6")] * 3
        self.library(self.frames(cameras))
        [(kind, _, _, members)] = self.groups(capsys, "-t", "0.3")
        assert kind != "burst" and len(members) == 6

    def test_a_resized_resave_is_a_copy_and_another_shot_is_similar(self, capsys,
                                                                   monkeypatch):
        a, b = samples.scene(31, (640, 480)), samples.scene(32, (640, 480))
        other_shot = b.crop((12, 9, 640, 480)).resize((640, 480))  # reframed, a minute on
        self.library({
            "a.jpg": (a, {"when": WHEN}),
            "a_resaved.jpg": (a.resize((384, 288)), {"when": WHEN}),  # same EXIF: a re-save
            "b.jpg": (b, {"when": WHEN}),
            "b_retake.jpg": (other_shot, {"when": WHEN + timedelta(minutes=1)}),
        }, extra_scenes=10)
        # Untrained features: the threshold that parts these scenes (the
        # nearest unrelated photo is at 0.007).
        kinds = {frozenset(m): kind for kind, _, _, m in self.groups(capsys, "-t", "0.005")}
        assert kinds == {frozenset({"a.jpg", "a_resaved.jpg"}): "copy",
                         frozenset({"b.jpg", "b_retake.jpg"}): "similar"}
        only = self.groups(capsys, "-t", "0.005", "--kind", "exact,copy")
        assert [sorted(m) for _, _, _, m in only] == [["a.jpg", "a_resaved.jpg"]]
        # --delete alone touches no copy, burst or similar group.
        monkeypatch.setattr("builtins.input", lambda *a: "yes")
        out = self.run_output(capsys, "similar-dupes", "-t", "0.005", "--delete")
        assert "--delete leaves the 2 near-duplicates alone" in out and len(photos(self.lib)) == 14
        # Named, the copy goes, and the similar shots stay.
        self.run_command("similar-dupes", "-t", "0.005", "--kind", "copy", "--delete")
        assert sorted(p.origname for p in photos(self.lib) if not p.origname.startswith("o")) \
            == ["a.jpg", "b.jpg", "b_retake.jpg"]


def test_quality_alone_is_the_parts_quality():
    """The keeper weighs with ``score.quality``; it must be the quality of
    the parts the review page and the report show."""
    import random

    from beetsplug.similar.keep import score
    from beetsplug.similar.library.selection import Facts

    rng = random.Random(3)
    for _ in range(500):
        photo = Facts(width=rng.choice([0, 640, 4000, 6000]), height=rng.choice([0, 480, 3000]),
                      taken=rng.choice([0, 1.6e9]), gps=rng.choice([0, 1, None]),
                      camera=rng.choice(["", "Canon"]), sharpness=rng.random(),
                      exposure=rng.choice([None, rng.random()]), edited=rng.choice([0, 1]),
                      format=rng.choice(["JPEG", "NEF", "png", "", None]))
        for order in (score.FORMATS, ("PNG", "JPEG")):
            assert score.quality(photo, order) == score.parts(photo, order).quality
