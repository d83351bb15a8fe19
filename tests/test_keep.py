"""Which photo to keep, and which shots are one burst: the quality score,
the keeper rules and the kinds of groups, on generated photos."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta

import numpy as np
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
from .test_trash import trash_home  # noqa: F401 (a fixture)
from .test_verify import textured

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
        # Photo-like detail: the check sees one capture in strong keypoints
        # (a smooth generated scene has few, docs/precision.md).
        a, b = textured(31, (640, 480)), textured(32, (640, 480))
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


def test_names_with_a_newline_are_weighed_like_any_other():
    from beetsplug.similar.library.selection import Facts

    def fact(pid, name):
        return Facts(id=pid, path=f"/p/{name}".encode(), origname=name, width=64, height=48)

    keeper = Keeper(["largest"])
    decision = keeper.choose([fact(1, "new\nline (1).jpg"), fact(2, "new\nline.jpg")])
    assert (decision.keep.id, decision.reason) == (2, "not a copy's name")
    assert keeper.choose([fact(1, "new\nline.jpg"), fact(2, "copy.jpg")]).keep.id == 1


class TestNewlineNames(SimilarHelper):
    def test_an_exact_copy_of_a_photo_named_with_a_newline(self, capsys, trash_home):
        root = self.photos_dir()
        odd = samples.save_photo(samples.scene(5, (96, 64)), str(root / "new\nline.jpg"), seed=5)
        (root / "copy.jpg").write_bytes(open(odd, "rb").read())
        os.utime(odd, (1e9, 1e9))
        os.utime(root / "copy.jpg", (1e9, 1e9))  # no rule decides: the names do
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        out = self.run_output(capsys, "similar-dupes", "-e", "-f", "$id")
        assert "group 1: exact, 2 photos; keep copy.jpg: no clear best (" in out
        out = self.run_output(capsys, "similar-dupes", "-e", "--trash")
        assert "sent 1 photo (1 file" in out and os.listdir(root) == ["copy.jpg"]


def _facts(pid, **fields):
    from beetsplug.similar.library.selection import Facts

    base = dict(id=pid, path=f"/p/{pid}.jpg".encode(), hash=str(pid), width=4000, height=3000,
                taken=0.0, mtime=1e9 + pid, format="JPEG", camera="", gps=0, edited=0,
                sharpness=0.5, exposure=1.0, origname=f"IMG_{pid}.jpg")
    return Facts({**base, **fields})


def test_older_is_said_only_from_capture_dates():
    """Issue 29: 29 of 38 groups said "older", from the file times of
    copies without a capture date. A file's time says when it was copied."""
    keeper = Keeper(["quality", "largest", "oldest"])
    undated = [_facts(1, mtime=2e9), _facts(2, mtime=1e9)]  # 2's file is older
    decision = keeper.choose(undated)
    assert decision.keep.id == 1 and decision.reason == "no clear best"
    assert decision.said == ("no clear best (quality within 0.05, same size, no differing "
                             "capture dates; the first imported)")
    when = datetime(2021, 6, 1, 12, 0, 1).timestamp()
    dated = [_facts(1, taken=when + 3, mtime=1e9), _facts(2, taken=when, mtime=2e9)]
    decision = keeper.choose(dated)
    assert decision.keep.id == 2
    assert decision.said == "older (taken 2021-06-01 12:00:01 against 2021-06-01 12:00:04)"
    # one photo without a date: the dates decide nothing
    assert keeper.choose([_facts(1, taken=when + 3), _facts(2)]).reason == "no clear best"


def test_a_lead_is_said_with_its_figures():
    keeper = Keeper(["quality", "largest"])
    sharp, soft = _facts(1, sharpness=0.80), _facts(2, sharpness=0.20)
    assert keeper.choose([soft, sharp]).said == "sharper (sharpness 0.80 against 0.20)"
    # against two others, what decided against each
    washed = _facts(3, sharpness=0.80, exposure=0.0)
    decision = keeper.choose([soft, sharp, washed])
    assert decision.keep.id == 1
    assert decision.said == ("better exposed and sharper (exposure 1.00 against 0.00; "
                             "sharpness 0.80 against 0.20)")
    big, small = _facts(1, width=4000, height=3000), _facts(2, width=2000, height=1500)
    assert Keeper(["largest"]).choose([small, big]).said == "larger (4000x3000 against 2000x1500)"


def test_a_copy_is_one_capture_never_a_bracket_or_a_series():
    from beetsplug.similar.dupes import evidence, kinds
    from beetsplug.similar.library.selection import Shot
    from beetsplug.similar.verify.check import Verdict

    def shots(*taken, camera="Canon EOS R6"):
        return [Shot(i + 1, f"h{i}", t, camera) for i, t in enumerate(taken)]

    def close():
        return np.zeros((2, 2))

    same = Verdict(300, 305, spread=0.5, scale=1.0, likeness=0.99, one_capture=True)
    differ = Verdict(300, 330, spread=0.5, scale=1.0, likeness=0.95)  # aligned, other pixels
    alike = Verdict(3, 10, likeness=0.9)  # seen as a whole only

    def seen(verdict):
        return lambda pictures: evidence.one_capture(
            [p.id for p in pictures], [evidence.Link(1, 2, verdict)])

    t = 1.6e9
    assert kinds.kind(shots(t, t), close, 0.2, 2.0, seen(same)) == "copy"
    # the same pixels, but taken at two moments: a bracket on a tripod
    assert kinds.kind(shots(t, t + 30), close, 0.2, 2.0, seen(same)) == "similar"
    # one camera, one moment, but the check saw the pixels differ
    assert kinds.kind(shots(t, t), close, 0.2, 2.0, seen(differ)) == "similar"
    # seen as a whole only, or no check: the camera and capture time decide
    assert kinds.kind(shots(t, t), close, 0.2, 2.0, seen(alike)) == "copy"
    assert kinds.kind(shots(t, t), close, 0.2, 2.0, None) == "copy"
    assert kinds.kind(shots(0, 0, camera=""), close, 0.2, 2.0, None) == "similar"
    assert kinds.kind(shots(0, 0, camera=""), close, 0.2, 2.0, seen(same)) == "copy"
    # farther than the copy distance for the network: not one capture
    assert kinds.kind(shots(t, t), lambda: np.full((2, 2), 0.3), 0.2, 2.0, seen(same)) \
        == "similar"


def test_the_weakest_link_is_the_one_the_group_cannot_do_without():
    from beetsplug.similar.dupes import evidence
    from beetsplug.similar.verify.check import Verdict

    def link(a, b, inliers):
        return evidence.Link(a, b, Verdict(inliers, inliers, spread=0.3, scale=1.0))

    # 1-2 and 2-3 strong, 3-4 the only way to 4; 1-3 weak but not needed
    links = [link(1, 2, 200), link(2, 3, 150), link(1, 3, 30), link(3, 4, 60)]
    weakest = evidence.weakest([1, 2, 3, 4], links)
    assert (weakest.a, weakest.b) == (3, 4) and weakest.verdict.said() == "60 inliers"
    assert evidence.weakest([1, 2, 3, 4, 5], links) is None  # 5 is not joined
