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
from beetsplug.similar.calibration import advice, augment, job, measure, store, tail
from beetsplug.similar.commands import settings
from beetsplug.similar.grouping.near import near_groups
from beetsplug.similar.library.photos import photos
from beetsplug.similar.search.exact import distances, prepare

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
    f = measure.figures(1, "top", base, copies)
    pos, neg = measure.pair_distances(base, copies)
    # 1.47 wrong partners per photo among 50 photos: 3 % of the pairs.
    assert f.threshold(1.47, 50) == pytest.approx(np.quantile(neg, 0.03), rel=0.01)
    assert f.recall(f.threshold(1.47, 50)) == np.mean(pos < f.threshold(1.47, 50))
    assert f.auc > 0.99 and f.recall(f.threshold(1.47, 50)) > 0.9 and f.dim == 16
    assert measure.LayerFigures.of(f.as_dict()) == f  # stored and read back


def test_related_pairs_are_not_counted_as_unrelated():
    p = [types.SimpleNamespace(hash=h, taken=t, camera=c) for h, t, c in [
        ("a", 1000.0, "X"), ("b", 1500.0, "X"),  # same camera, minutes apart
        ("c", 1500.0, "Y"),  # another camera
        ("a", 9e6, "X"),  # same bytes as the first, another day
        ("d", 0.0, "X")]]  # no date: cannot tell
    related = job.related_pairs(p)
    pairs = list(zip(*np.triu_indices(5, k=1)))
    assert {pairs[k] for k in np.flatnonzero(related)} == {(0, 1), (0, 3)}


@pytest.mark.parametrize("dim", [64, 128, 512])
def test_the_tail_fit_extrapolates_to_one_pair_in_a_million(dim):
    """Cosine distances of random directions in ``dim`` dimensions, whose
    quantiles are known (1 - cos is 2 - 2 B, B ~ Beta((dim-1)/2, (dim-1)/2)):
    from 44,850 pairs (300 photos), the distance at a pair probability of
    1e-6 is within 10 %, and the wrong partners per photo it gives within a
    factor of 8 of those asked."""
    from scipy import stats

    a = (dim - 1) / 2
    for seed in range(5):
        d = 2 - 2 * np.random.default_rng(seed).beta(a, a, 44850)
        t = tail.fit(d)
        true = 2 - 2 * stats.beta.ppf(1 - 1e-6, a, a)
        assert t.quantile(1e-6) == pytest.approx(true, rel=0.10)
        assert 1 / 8 < stats.beta.sf(1 - t.quantile(1e-6) / 2, a, a) / 1e-6 < 8
        # Where the sample has pairs enough, its own quantiles are used.
        assert t.quantile(0.01) == pytest.approx(np.quantile(d, 0.01), rel=0.002)
        assert t.quantile(0.01) == pytest.approx(2 - 2 * stats.beta.ppf(0.99, a, a), rel=0.02)
    # A threshold per photo: 0.01 wrong partners per photo among N photos is
    # a pair probability of 0.01 / (N - 1); lower as the library grows.
    assert t.distance_at(0.01, 10_001) == t.quantile(1e-6)
    sizes = [10, 100, 1000, 10**5, 10**7]
    steps = [t.distance_at(0.01, n) for n in sizes]
    assert steps == sorted(steps, reverse=True) and len(set(steps)) == len(steps)
    p = np.geomspace(1e-9, 0.5, 200)  # continuous and increasing, fit and sample alike
    q = [t.quantile(x) for x in p]
    assert all(b > a for a, b in zip(q, q[1:]))
    assert t.probability(t.quantile(1e-5)) == pytest.approx(1e-5, rel=1e-6)
    assert t.probability(t.quantile(0.1)) == pytest.approx(0.1, rel=1e-2)
    assert tail.Tail.of(t.as_dict()) == t
    with pytest.raises(tail.TailError, match="29 unrelated pairs"):
        tail.fit(d[:29])


def test_pairs_the_check_confirms_are_not_counted_as_unrelated(tmp_path):
    """Near-duplicates in the sample (a re-save, a bracket) would make the
    lower tail, and so the strict threshold, depend on how many the sample
    holds: the check's confirmed pairs are left out, as retakes are."""
    from beetsplug.similar.verify.variants import variant

    from .test_verify import feats, textured

    photos = [textured(40 + i) for i in range(8)]
    shots = photos + [variant(photos[0], "resaved")[0], variant(photos[3], "under")[0]]
    features = [feats(img, 92, tmp_path, str(k)) for k, img in enumerate(shots)]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(10, 16))
    vectors[8], vectors[9] = vectors[0] + 0.01, vectors[3] + 0.01  # the closest pairs
    confirmed = job.confirmed_pairs(dict(enumerate(features)), [vectors])
    i, j = np.triu_indices(10, k=1)
    assert {(int(a), int(b)) for a, b in zip(i[confirmed], j[confirmed])} == {(0, 8), (3, 9)}


def test_one_shoot_is_measured_against_augmented_copies_of_the_others():
    shoot = [types.SimpleNamespace(hash=h, taken=t, camera="X") for h, t in [
        ("a", 100.0), ("b", 220.0), ("c", 340.0), ("d", 460.0), ("a", 580.0)]]
    related = job.related_pairs(shoot)
    assert related.all()  # one camera within an hour: nothing unrelated by the rule
    crossed = job.crossed_pairs(shoot, related)
    pairs = list(zip(*np.triu_indices(5, k=1)))
    # Not the next shot, nor the same bytes (0 and 4).
    assert {pairs[k] for k in np.flatnonzero(crossed)} == {(0, 2), (0, 3), (1, 3), (1, 4),
                                                          (2, 4)}
    mixed = shoot + [types.SimpleNamespace(hash=f"o{k}", taken=9e6 * (k + 1), camera="Y")
                     for k in range(5)]
    related = job.related_pairs(mixed)
    assert not job.crossed_pairs(mixed, related).any()  # most pairs unrelated: not needed
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 8))
    copies = x + rng.normal(scale=0.1, size=x.shape)
    mask = np.zeros(45, dtype=bool)
    mask[3] = True  # pair (0, 4)
    _, negative = measure.pair_distances(x, copies, np.ones(45, dtype=bool), mask)
    u, c = measure.unit_rows(x), measure.unit_rows(copies)
    assert negative.tolist() == pytest.approx([1 - u[0] @ c[4], 1 - u[4] @ c[0]])


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
        assert "36 photos and as many augmented copies" in out  # at most job.COPIED
        assert "594 pairs of different photos measured" in out  # 36 * 35 / 2, less 12 * 3 retakes
        assert "thresholds for 36 photos and 0.01 expected wrong partners per photo" in out
        saved = store.load(self.lib, "mobilenet_v3_small/none-seed0")
        assert saved.chosen == int(chosen[1]) and saved.sample == 36
        assert self.run_output(capsys, "similar-calibrate", "--show") == out

    def test_calibrate_writes_its_progress_to_a_log_in_every_stage(self, scenes_dir, capsys,
                                                                 monkeypatch):
        from beetsplug.similar import progress

        monkeypatch.setattr(progress, "LOG_EVERY", 0.0)  # a line at every step
        self.prepare(scenes_dir)
        capsys.readouterr()
        self.run_command("similar-calibrate")
        err = capsys.readouterr().err
        for label in ("calibrate", "calibrate, second check's features",
                      "calibrate, second check"):
            assert re.search(rf"^{label}: \d+ of \d+, ", err, re.M), err

    def test_defaults_calibrate_once_and_find_the_groups(self, scenes_dir, capsys):
        self.prepare(scenes_dir)
        out = self.run_output(capsys, "similar-featurize")
        assert out.count("calibrating mobilenet_v3_small/none-seed0 first on 36 photos") == 1
        dupes = self.run_output(capsys, "similar-dupes", "-f", "$origname")
        assert "calibrating" not in dupes  # stored: used, not redone
        calibration = store.load(self.lib, "mobilenet_v3_small/none-seed0")
        threshold = calibration.at(calibration.chosen).threshold(0.01, 36)
        shown = re.search(r"cosine distance under ([0-9.]+)", dupes).group(1)
        assert float(shown) == pytest.approx(threshold, rel=1e-3)
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

    def test_false_matches_and_the_old_rate_and_bad_values_are_one_line(self, scenes_dir,
                                                                         capsys, caplog):
        self.prepare(scenes_dir)
        self.run_command("similar-featurize")
        calibration = store.load(self.lib, "mobilenet_v3_small/none-seed0")
        layer = calibration.at(calibration.chosen)
        dupes = self.run_output(capsys, "similar-dupes")
        assert "calibrating" not in dupes  # the setting is applied at run time
        strict = layer.threshold(0.01, 36)
        chosen = settings.feature_settings(self.similar(), self.lib)
        assert settings.threshold(self.similar(), self.lib, None, chosen) == strict
        self.config["similar"]["false_matches"] = 0.5
        looser = settings.threshold(self.similar(), self.lib, None, chosen)
        assert looser == layer.threshold(0.5, 36) > strict
        # Candidates for the geometric check: looser still, never below the strict one.
        candidates = settings.candidate_threshold(self.similar(), self.lib, None, chosen)
        per_photo = self.config["similar"]["verify_candidates"].get(float)
        assert candidates == max(layer.threshold(per_photo, 36), looser) > strict
        self.config["similar"]["verify"] = False
        assert settings.candidate_threshold(self.similar(), self.lib, None, chosen) is None
        self.config["similar"]["verify"] = True
        for name, bad, message in (
                ("false_matches", 0, r"false_matches is the expected .* such as 0.01$"),
                ("false_matches", "lots", r"false_matches is the expected .* such as 0.01$"),
                ("verify", "maybe", r"^similar.verify is yes or no$"),
                ("verify_candidates", -1, r"verify_candidates is .* such as 8$")):
            self.config["similar"][name] = bad
            with pytest.raises(UserError, match=message):
                settings.candidate_threshold(self.similar(), self.lib, None, chosen)
                settings.threshold(self.similar(), self.lib, None, chosen)
            self.config["similar"][name] = {"verify": True, "verify_candidates": 1.0,
                                            "false_matches": 0.01}.get(name, 0.01)
        # The old setting still means a share of pairs, and says what it became.
        self.config["similar"]["false_positive_rate"] = 0.05
        caplog.clear()
        old = settings.threshold(self.similar(), self.lib, None, chosen)
        assert old == pytest.approx(layer.tail.quantile(0.05))
        assert old == pytest.approx(layer.threshold(1.75, 36))
        assert any("false_positive_rate 0.05 is read as similar.false_matches 1.75 for 36 "
                   "photos" in r.getMessage() for r in caplog.records)
        self.config["similar"]["false_positive_rate"] = 0.7
        with pytest.raises(UserError, match=r"false_positive_rate .* such as 0.0001;"):
            settings.threshold(self.similar(), self.lib, None, chosen)
        self.config["similar"]["false_positive_rate"] = None  # unset
        self.config["similar"]["depth"] = "block99"
        with pytest.raises(UserError, match="mobilenet_v3_small has no candidate layer "
                                            "'block99'; use a depth from 1 to 7 or one of top,"):
            self.run_command("similar-featurize")
        self.config["similar"]["depth"] = "expanded_conv_9_add"
        out = self.run_output(capsys, "similar-featurize")
        assert "featurized 36 with mobilenet_v3_small/expanded_conv_9_add/none-seed0" in out

    def similar(self):
        from beets import plugins
        return next(p for p in plugins.find_plugins() if p.name == "similar")

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
    result = job.run(items, extractor, "x", on_error=errors.append)
    assert result.sample == 12 and len(errors) == len(bad)
    assert [f.depth for f in result.layers] == [1, 2]
    assert Image.open(good[0]).size == (200, 150)


def test_copies_of_some_photos_give_the_positives_and_every_photo_the_negatives(
        tmp_path, monkeypatch):
    """The negatives (the threshold) need every photo of the sample, the
    positives far fewer: only ``COPIED`` photos go through the network
    three times."""
    from beetsplug.similar.features.extractor import FeatureExtractor

    monkeypatch.setattr(job, "COPIED", 5)
    folder = tmp_path / "pics"
    items = [types.SimpleNamespace(id=i, path=os.fsencode(samples.save_photo(
        samples.scene(i, (200, 150)), str(folder / f"{i}.jpg"), seed=i))) for i in range(12)]
    extractor = FeatureExtractor("mobilenet_v3_small", 1, "none", depths=(1, 2))
    seen = []
    original = extractor.extract_all
    monkeypatch.setattr(extractor, "extract_all", lambda x: seen.append(len(x)) or original(x))
    result = job.run(items, extractor, "x")
    assert sum(seen) == 12 + 2 * 5  # each photo once, the copies of five
    assert all(len(f.positive) == 5 for f in result.layers)
    assert all(f.tail.pairs == 66 for f in result.layers)  # 12 * 11 / 2: every photo
    assert job.copied_rows(12).tolist() == sorted(set(job.copied_rows(12).tolist()))
    assert len(job.copied_rows(12)) == 5 and len(job.copied_rows(4)) == 4


def test_no_copy_read_is_one_clear_error(tmp_path, monkeypatch):
    from beetsplug.similar.features.extractor import FeatureExtractor

    folder = tmp_path / "pics"
    good = [samples.save_photo(samples.scene(i, (200, 150)), str(folder / f"{i}.jpg"), seed=i)
            for i in range(12)]
    bad = sorted(samples.write_bad_files(str(folder / "bad"), good[0]).values())
    items = [types.SimpleNamespace(id=i, path=os.fsencode(p)) for i, p in enumerate(bad + good)]
    monkeypatch.setattr(job, "copied_rows", lambda count: np.arange(len(bad)))
    extractor = FeatureExtractor("mobilenet_v3_small", 1, "none", depths=(1,))
    with pytest.raises(job.CalibrationError, match=rf"^calibration could read none of the "
                       rf"{len(bad)} photos it makes augmented copies of; set similar.depth"):
        job.run(items, extractor, "x")


def test_distances_with_copies_of_some_photos():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 8))
    copied = np.array([1, 4])
    copies = x[copied] + rng.normal(scale=0.1, size=(2, 8))
    positive, negative = measure.pair_distances(x, copies, copied=copied)
    assert positive.tolist() == pytest.approx(measure.copy_distances(x[copied], copies).tolist())
    assert len(negative) == 15
    crossed = np.zeros(15, dtype=bool)
    crossed[:2] = True  # pairs (0, 1) and (0, 2): only photo 1 has a copy
    _, negative = measure.pair_distances(x, copies, np.ones(15, dtype=bool), crossed, copied)
    u, c = measure.unit_rows(x), measure.unit_rows(copies)
    assert negative.tolist() == pytest.approx([1 - u[0] @ c[0]])


def test_calibration_shows_progress_in_a_log_through_the_second_check(tmp_path):
    """Outside a terminal a line a minute, in every stage: the photos, the
    second check's features and its pairs."""
    import io

    from beetsplug.similar.features.extractor import FeatureExtractor
    from beetsplug.similar.progress import Progress

    folder = tmp_path / "pics"
    items = [types.SimpleNamespace(id=i, path=os.fsencode(samples.save_photo(
        samples.scene(i, (200, 150)), str(folder / f"{i}.jpg"), seed=i))) for i in range(12)]
    extractor = FeatureExtractor("mobilenet_v3_small", 1, "none", depths=(1, 2))
    now, log = [0.0], io.StringIO()

    def clock() -> float:  # each step takes 40 seconds
        now[0] += 40.0
        return now[0]

    bar = Progress(len(items), "calibrate", log, clock=clock)
    job.run(items, extractor, "x", batch_size=4, on_progress=bar.update,
            on_stage=bar.stage)
    lines = log.getvalue().splitlines()
    assert any(re.fullmatch(r"calibrate: [48] of 12, .*", line) for line in lines), lines
    assert any(line.startswith("calibrate, second check's features: ") for line in lines)
    assert any(re.fullmatch(r"calibrate, second check: \d+ of \d+, .* left", line)
               for line in lines), lines


# A shoot from one camera, and settings given on one command only.


def one_shoot(folder, count: int, copies: int = 0, size=(160, 120),
              minutes: int = 2) -> list[str]:
    """``count`` different scenes from one camera, ``minutes`` apart, and
    exact copies of the first ``copies``."""
    from datetime import datetime, timedelta

    paths = [samples.save_photo(samples.scene(i, size), str(folder / f"img_{i:03d}.jpg"),
                                seed=i, camera=("Canon", "Canon EOS R5"),
                                when=datetime(2023, 6, 1, 14) + timedelta(minutes=minutes * i))
             for i in range(count)]
    for i in range(copies):
        (folder / f"img_{i:03d}_copy.jpg").write_bytes(open(paths[i], "rb").read())
    return paths


NUMBER = re.compile(r"\d\.?\d*e[-+]?\d")  # scientific notation


class TestOneShoot(SimilarHelper):
    @pytest.mark.parametrize("count,copies,depth", [(12, 0, "auto"), (12, 12, "auto"),
                                                   (12, 0, 2)])
    def test_every_command_works(self, count, copies, depth, capsys):
        root = self.photos_dir()
        one_shoot(root, count, copies)
        self.config["similar"].set({**MODEL, "depth": depth})
        self.run_command("similar-import", str(root))
        # Exact copies need no calibration at all.
        out = self.run_output(capsys, "similar-dupes", "-e")
        assert "calibrating" not in out
        assert f"{copies} groups ({copies} exact)" in out
        assert store.load(self.lib, "mobilenet_v3_small/none-seed0") is None
        out = self.run_output(capsys, "similar-featurize")
        assert f"featurized {count + copies} with mobilenet_v3_small/" in out
        assert ("calibrating" in out) == (depth == "auto")
        out = self.run_output(capsys, "similar-calibrate")
        # Next shots and copies left out; each pair both ways.
        pairs = (count * (count - 1) // 2 - (count - 1)) * (1 + copies // count) ** 2 * 2
        assert f"{pairs} pairs of different photos measured" in out
        assert "the sample is mostly one shoot (one camera within an hour)" in out
        assert not NUMBER.search(out)
        self.run_command("similar-order", "--no-rename")
        assert sorted(p.rank for p in photos(self.lib)) == list(range(1, count + copies + 1))
        self.run_command("similar-report", "-o", str(self.temp_path / "r.html"))
        assert (self.temp_path / "r.html").is_file()
        out = self.run_output(capsys, "similar-dupes", "-t", "0.05")
        assert "cosine distance under 0.05)" in out  # where the check cannot read a photo
        out = self.run_output(capsys, "similar-dupes")
        assert f"{copies} exact" in out

    def test_fifty_photos_calibrate(self, capsys):
        root = self.photos_dir()
        one_shoot(root, 50, size=(96, 72), minutes=1)
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        out = self.run_output(capsys, "similar-calibrate")
        # All within an hour: all pairs but the 49 next shots, both ways.
        assert f"{(50 * 49 // 2 - 49) * 2} pairs of different photos measured" in out
        assert "thresholds for 50 photos and 0.01 expected wrong partners per photo" in out
        assert re.search(r"near-duplicates under 0\.\d+ for this library of 50 photos", out)

    def test_no_pairs_of_different_pictures_is_one_line(self, capsys):
        root = self.photos_dir()
        one_shoot(root, 2, copies=0)
        for k in range(10):  # 12 files, two pictures: one pair measures nothing
            (root / f"more_{k}.jpg").write_bytes((root / f"img_00{k % 2}.jpg").read_bytes())
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        with pytest.raises(UserError, match=r"^calibration found too few pairs of different "
                                            r"pictures \(0 unrelated pairs, at least 30 "
                                            r"needed\); set similar.depth and "
                                            r"similar.threshold yourself$"):
            self.run_command("similar-calibrate")
        out = self.run_output(capsys, "similar-dupes", "-t", "0.05")  # what a user can set
        assert "2 groups (2 exact" in out


class TestSettingsOfOneCommand(SimilarHelper):
    def test_six_photos_say_only_that_calibration_needs_ten(self, capsys, caplog):
        root = self.photos_dir()
        one_shoot(root, 6)
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        out = self.run_output(capsys, "similar-featurize")
        assert "calibrating" not in out
        assert any("calibration needs at least 10 photos and has 6 in the library"
                   in r.getMessage() for r in caplog.records)

    def test_vectors_made_with_w_none_are_used_by_the_next_command(self, scenes_dir, capsys,
                                                                   caplog):
        root = copy_tree(scenes_dir[0], self.photos_dir())
        self.config["similar"].set({"model": "mobilenet_v3_small", "weights": "imagenet"})
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize", "-w", "none")
        caplog.clear()
        out = self.run_output(capsys, "similar-dupes")  # imagenet cannot be loaded here
        assert "calibrating mobilenet_v3_small/imagenet" not in out
        assert "groups (" in out
        assert any("the library has no vectors of similar.model mobilenet_v3_small with "
                   "similar.weights imagenet; using its vectors, mobilenet_v3_small/"
                   in r.getMessage() and "set similar.weights: none" in r.getMessage()
                   for r in caplog.records)
        assert "has no mobilenet" not in " ".join(r.getMessage() for r in caplog.records)
        out = self.run_output(capsys, "similar-calibrate", "--show")
        assert out.startswith("mobilenet_v3_small/none-seed0: 36 photos")

    def test_ctrl_c_during_calibration_stores_nothing_and_says_so(self, scenes_dir,
                                                                  monkeypatch):
        from beetsplug.similar.features.extractor import FeatureExtractor

        root = copy_tree(scenes_dir[0], self.photos_dir())
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))

        def interrupted(self, images):
            raise KeyboardInterrupt

        def message() -> str:
            try:
                self.run_command("similar-calibrate")
            except KeyboardInterrupt:
                pytest.fail("Ctrl-C got through, with no message")
            except UserError as exc:
                return str(exc)
            pytest.fail("no error")

        monkeypatch.setattr(FeatureExtractor, "extract_all", interrupted)
        assert message() == ("calibration of mobilenet_v3_small/none-seed0 interrupted; "
                             "none was stored")
        assert store.load(self.lib, "mobilenet_v3_small/none-seed0") is None
        monkeypatch.undo()
        self.run_command("similar-calibrate")
        made = store.load(self.lib, "mobilenet_v3_small/none-seed0")
        monkeypatch.setattr(FeatureExtractor, "extract_all", interrupted)
        assert message().endswith("interrupted; the previous one is kept")
        assert store.load(self.lib, "mobilenet_v3_small/none-seed0") == made


def test_figures_that_mean_trouble_are_said_in_plain_decimals():
    from beetsplug.similar.commands import calibrate

    d = np.random.default_rng(0).uniform(1e-5, 3e-5, 1000)
    layer = measure.LayerFigures(1, "top", 8, 0.5, 1.2e-6, tail.fit(d),
                                 tuple(np.linspace(5e-5, 1e-4, 10)))
    cal = store.Calibration("xception/none-seed0", 0.0, 300, 1, (layer,))
    alone = advice.Settings(0.01, 1000, checked=False, candidates=8.0)
    out = "\n".join(calibrate.table(cal, alone, "none"))
    assert not NUMBER.search(out)
    assert re.search(r"near-duplicates under 0\.00000\d+ for this library", out)
    assert ("recall 0.00: at this threshold the network finds almost none of the augmented "
            "copies, so few near-duplicates will be grouped; no setting measured on this "
            "sample does better; the network is untrained (weights: none)" in out), out
    verbose = "\n".join(calibrate.table(cal, alone, "none", verbose=True))
    assert NUMBER.search(verbose)


def figures(positive, unrelated, depth=1) -> measure.LayerFigures:
    return measure.LayerFigures(depth, f"layer{depth}", 8, 0.9, 0.01, tail.fit(unrelated),
                                tuple(sorted(positive)))


def test_layers_whose_auc_differs_by_less_than_its_noise_are_chosen_by_recall():
    """With 100 augmented copies the AUC moves by about 0.01 from one
    sample to another: closer AUCs are one, and recall decides."""
    import dataclasses

    rng = np.random.default_rng(2)
    unrelated = rng.uniform(0.2, 1.0, 19900)
    more = figures(rng.uniform(0.0, 0.3, 100), unrelated, depth=2)  # more under the threshold
    less = figures(rng.uniform(0.1, 0.3, 100), unrelated, depth=3)
    assert more.recall(more.threshold(0.01, 1000)) > less.recall(less.threshold(0.01, 1000))
    tied = [dataclasses.replace(more, auc=0.960), dataclasses.replace(less, auc=0.969)]
    assert measure.best(tied, 0.01, 1000).depth == 2
    apart = [dataclasses.replace(more, auc=0.955), dataclasses.replace(less, auc=0.969)]
    assert measure.best(apart, 0.01, 1000).depth == 3


def test_a_change_is_advised_only_when_it_measures_better():
    """Issue 29: 'raise similar.false_matches' was printed, and raising it
    from 0.01 to 0.1 changed 130 grouped pairs to 133. Now each change is
    measured on the calibration's own figures first."""
    rng = np.random.default_rng(1)
    unrelated = rng.uniform(0.2, 1.0, 44850)
    # The augmented copies lie just among the unrelated photos' distances:
    # the strict threshold finds none, and so does a hundred times as many
    # wrong partners; each photo's 8 nearest (the check's candidates) hold
    # most of them.
    far = figures(rng.uniform(0.2015, 0.206, 300), unrelated)
    cal = store.Calibration("x/none-seed0", 0.0, 300, 1, (far,))
    alone = advice.Settings(0.01, 1000, checked=False, candidates=8.0)
    [line] = advice.troubles(cal, alone, "file.h5")
    assert line.startswith("recall 0.00: ") and "false_matches" not in line
    proposed = far.proposed(8, 8.0, 1000)
    assert proposed > 0.5 and f"similar.verify: yes proposes {proposed:.2f}" in line
    # With the check, its candidates at 0.2 to 0.22 are few in a big library:
    # more candidates per photo are measured, and named only when they help
    big = advice.Settings(0.01, 200_000, checked=True, candidates=8.0)
    figure = advice.found(cal, 1, big)
    [line] = advice.troubles(cal, big, "file.h5")
    assert line.startswith(f"proposed {figure:.2f}: ")
    better = far.proposed(16, 16.0, 200_000)
    if better >= figure + advice.BETTER:
        assert f"similar.verify_candidates: 16 proposes {better:.2f}" in line
    else:
        assert "no setting measured on this sample does better" in line
    # Another layer that proposes more is named, with its figure
    near = figures(rng.uniform(0.0, 0.05, 300), unrelated, depth=2)
    cal = store.Calibration("x/none-seed0", 0.0, 300, 1, (far, near))
    [line] = advice.troubles(cal, big, "file.h5")
    assert f"similar.depth: 2 proposes {near.proposed(8, 8.0, 200_000):.2f}" in line
    # Nothing wrong: nothing said
    cal = store.Calibration("x/none-seed0", 0.0, 300, 2, (far, near))
    assert advice.troubles(cal, big, "file.h5") == []


def test_proposed_is_the_share_under_the_candidate_distance_or_among_the_nearest():
    rng = np.random.default_rng(2)
    unrelated = rng.uniform(0.2, 1.0, 44850)
    layer = figures(np.linspace(0.0, 0.6, 300), unrelated)
    under = layer.threshold(8.0, 1000)
    # a copy at distance d is among a photo's 8 nearest when fewer than 8
    # unrelated photos of 1000 are expected closer
    among = [d for d in layer.positive if 999 * layer.tail.probability(d) < 8]
    expected = np.mean([d < under or d in among for d in layer.positive])
    assert layer.proposed(8, 8.0, 1000) == pytest.approx(expected)
    assert layer.proposed(8, 8.0, 1000) > layer.proposed(8, 8.0, 100_000)  # more photos, fewer
