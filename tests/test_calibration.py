"""Calibration on the library's own photos, groups that never chain, and
groups that sit together in the order."""

from __future__ import annotations

import itertools
import os
import re
import types

import numpy as np
import pytest
from beets.exceptions import UserError
from PIL import Image

from beetsplug.similar import samples
from beetsplug.similar.calibration import augment, job, measure, store
from beetsplug.similar.dupes.groups import distances, near_groups
from beetsplug.similar.library.photos import photos
from beetsplug.similar.order.chain import prepare

from .conftest import SimilarHelper, copy_tree
from .test_order_command import group_of

MODEL = {"weights": "none", "model": "mobilenet_v3_small"}


# Pure parts.


def test_auc_threshold_and_recall_from_known_distances():
    positive, negative = np.array([0.1, 0.2, 0.3]), np.linspace(0.0, 1.0, 101)
    assert measure.auc(np.array([0.0]), np.array([1.0, 2.0])) == 1.0
    assert measure.auc(np.array([3.0]), np.array([1.0, 2.0])) == 0.0
    assert measure.auc(positive, negative) == pytest.approx(
        np.mean([[p < n for n in negative] for p in positive])
        + 0.5 * np.mean([[p == n for n in negative] for p in positive]))
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 16))
    copies = base + rng.normal(scale=0.05, size=base.shape)
    f = measure.figures(1, "top", base, copies, fpr=0.01)
    _, neg = measure.pair_distances(base, copies)
    assert f.threshold == pytest.approx(np.quantile(neg, 0.01))
    assert f.auc > 0.99 and f.recall > 0.9 and f.dim == 16


def test_related_pairs_are_not_counted_as_unrelated():
    p = [types.SimpleNamespace(hash=h, taken=t, camera=c) for h, t, c in [
        ("a", 1000.0, "X"), ("b", 1500.0, "X"),  # same camera, minutes apart
        ("c", 1500.0, "Y"),  # another camera
        ("a", 9e6, "X"),  # same bytes as the first, another day
        ("d", 0.0, "X")]]  # no date: cannot tell
    related = job.related_pairs(p)
    pairs = list(zip(*np.triu_indices(5, k=1)))
    assert {pairs[k] for k in np.flatnonzero(related)} == {(0, 1), (0, 3)}


def test_augmented_copies_are_near_but_not_equal(tmp_path):
    img = samples.scene(3, (400, 300))
    a = augment.augment(img, np.random.default_rng(1))
    b = augment.augment(img, np.random.default_rng(1))
    assert np.array_equal(np.asarray(a), np.asarray(b))  # seeded: repeatable
    assert a.mode == "RGB" and 0.3 * 0.75 * 400 - 2 <= a.width <= 0.8 * 0.95 * 400 + 2
    small = np.asarray(img.resize((32, 24)), dtype=float)
    other = np.asarray(samples.scene(4, (400, 300)).resize((32, 24)), dtype=float)
    mine = np.asarray(a.resize((32, 24)), dtype=float)
    assert np.abs(mine - small).mean() < np.abs(other - small).mean()


def test_a_chain_never_makes_one_group():
    """A ~ B ~ C with A and C far apart: never one group; B joins the closer."""
    a = np.array([1.0, 0.0, 0.0])
    ang = lambda deg: np.array([np.cos(np.radians(deg)), np.sin(np.radians(deg)), 0.0])
    b, c = ang(8.0), ang(17.0)  # A-B 8 degrees, B-C 9 degrees, A-C 17 degrees
    x = np.stack([a, b, c])
    threshold = 1 - np.cos(np.radians(12.0))
    d = distances(prepare(x, "cosine"), "cosine")
    assert d[0, 1] < threshold and d[1, 2] < threshold and d[0, 2] > threshold
    assert near_groups(x, threshold) == [[0, 1]]  # B is closer to A
    assert near_groups(np.stack([a, ang(9.0), c]), threshold) == [[1, 2]]


@pytest.mark.parametrize("seed", range(5))
def test_no_group_is_wider_than_the_threshold(seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(30, 24))
    x = np.concatenate([centres + rng.normal(scale=s, size=centres.shape)
                        for s in (0.05, 0.2, 0.4, 0.6)])
    threshold = 0.05
    d = distances(prepare(x, "cosine"), "cosine")
    groups = near_groups(x, threshold)
    assert groups and len({i for g in groups for i in g}) == sum(map(len, groups))
    for g in groups:
        assert max(d[i, j] for i, j in itertools.combinations(g, 2)) <= threshold


# The commands, as a user runs them.


class TestCalibrate(SimilarHelper):
    def prepare(self, scenes_dir):
        root = copy_tree(scenes_dir[0], self.photos_dir())
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        return root

    def test_calibrate_prints_stores_and_shows(self, scenes_dir, capsys):
        self.prepare(scenes_dir)
        out = self.run_output(capsys, "similar-calibrate")
        rows = re.findall(r"^([ *])\s+(\d)\s+(\S+)\s+(\d+)\s+([0-9.]+)\s+(\S+)\s+([0-9.]+)",
                          out, re.M)
        assert [int(r[1]) for r in rows] == list(range(1, 8))
        assert sum(r[0] == "*" for r in rows) == 1
        chosen = next(r for r in rows if r[0] == "*")
        assert float(chosen[4]) == max(float(r[4]) for r in rows)  # the best AUC
        assert re.search(rf"chosen: depth {chosen[1]} \({chosen[2]}\), near-duplicates under ",
                         out)
        assert "36 photos and as many augmented copies" in out
        saved = store.load(self.lib, "mobilenet_v3_small/none-seed0")
        assert saved.chosen == int(chosen[1]) and saved.sample == 36 and saved.fpr == 0.01
        assert self.run_output(capsys, "similar-calibrate", "--show") == out

    def test_defaults_calibrate_once_and_find_the_groups(self, scenes_dir, capsys):
        self.prepare(scenes_dir)
        out = self.run_output(capsys, "similar-featurize")
        assert out.count("calibrating mobilenet_v3_small/none-seed0 first on 36 photos") == 1
        dupes = self.run_output(capsys, "similar-dupes", "-f", "$origname")
        assert "calibrating" not in dupes  # stored: used, not redone
        calibration = store.load(self.lib, "mobilenet_v3_small/none-seed0")
        threshold = calibration.at(calibration.chosen).threshold
        assert f"cosine distance under {threshold:.4g}" in dupes
        truth = group_of(scenes_dir)
        found = [[line[4:] for line in block.splitlines()] for block in
                 re.findall(r"group \d+: \w+, \d+ photos[^\n]*\n((?:  .*\n)+)", dupes)]
        pure = [g for g in found if len({truth[n] for n in g}) == 1]
        assert len(found) >= 8 and len(pure) >= 0.75 * len(found)
        # Order and groups agree: every group sits together in the chain.
        self.run_command("similar-order", "--no-rename")
        rank = {p.origname: p.rank for p in photos(self.lib)}
        for g in found:
            ranks = sorted(rank[n] for n in g)
            assert ranks == list(range(ranks[0], ranks[0] + len(g))), g

    def test_other_fpr_recalibrates_and_bad_values_are_one_line(self, scenes_dir, capsys):
        self.prepare(scenes_dir)
        self.run_command("similar-calibrate")
        loose = store.load(self.lib, "mobilenet_v3_small/none-seed0")
        self.config["similar"]["false_positive_rate"] = 0.05
        out = self.run_output(capsys, "similar-dupes")
        assert "calibrating mobilenet_v3_small/none-seed0 first" in out
        wider = store.load(self.lib, "mobilenet_v3_small/none-seed0")
        assert wider.fpr == 0.05
        assert wider.at(wider.chosen).threshold > loose.at(wider.chosen).threshold
        for bad in (0, 0.7, "lots"):
            self.config["similar"]["false_positive_rate"] = bad
            with pytest.raises(UserError, match=r"false_positive_rate .* such as 0.01$"):
                self.run_command("similar-calibrate")
        self.config["similar"]["false_positive_rate"] = 0.01
        self.config["similar"]["depth"] = "block99"
        with pytest.raises(UserError, match="mobilenet_v3_small has no candidate layer "
                                            "'block99'; use a depth from 1 to 7 or one of top,"):
            self.run_command("similar-featurize")
        self.config["similar"]["depth"] = "expanded_conv_9_add"
        out = self.run_output(capsys, "similar-featurize")
        assert "featurized 36 with mobilenet_v3_small/expanded_conv_9_add/none-seed0" in out

    def test_too_few_photos(self, capsys, caplog):
        root = self.photos_dir()
        for i in range(3):
            samples.save_photo(samples.scene(i, (160, 120)), str(root / f"{i}.jpg"), seed=i)
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        with pytest.raises(UserError, match="calibration needs at least 10 photos and has 3 in the sample"):
            self.run_command("similar-calibrate")
        out = self.run_output(capsys, "similar-featurize")  # falls back, and says so
        assert "featurized 3 with mobilenet_v3_small/top/none-seed0" in out
        assert any("depth: auto uses depth 1 for now" in r.getMessage() for r in caplog.records)
        with pytest.raises(UserError, match="similar.threshold is auto, but calibration needs"):
            self.run_command("similar-dupes")
        out = self.run_output(capsys, "similar-dupes", "-t", "0.01")
        assert "groups" in out
        self.run_command("similar-order", "--no-rename")  # orders without near groups
        assert sorted(p.rank for p in photos(self.lib)) == [1, 2, 3]


def test_unreadable_photos_in_the_sample_are_skipped(tmp_path):
    """Bad files are reported and the rest measured."""
    from beetsplug.similar.features.extractor import FeatureExtractor

    folder = tmp_path / "pics"
    good = [samples.save_photo(samples.scene(i, (200, 150)), str(folder / f"{i}.jpg"), seed=i)
            for i in range(12)]
    bad = samples.write_bad_files(str(folder / "bad"), good[0])
    items = [types.SimpleNamespace(id=i, path=os.fsencode(p))
             for i, p in enumerate(good + sorted(bad.values()))]
    errors = []
    extractor = FeatureExtractor("mobilenet_v3_small", 1, "none", depths=(1, 2))
    result = job.run(items, extractor, "x", 0.05, on_error=errors.append)
    assert result.sample == 12 and len(errors) == len(bad)
    assert [f.depth for f in result.layers] == [1, 2]
    assert Image.open(good[0]).size == (200, 150)
