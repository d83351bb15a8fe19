"""Big libraries: the reduced space, grouping a batch at a time, and
queries read as columns (``grouping/reduced.py``, ``search/space.py``, ``library/selection.py``)."""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd
import pytest
from beets.exceptions import UserError

from beetsplug.similar.dupes import job as dupes_job
from beetsplug.similar.grouping import reduced
from beetsplug.similar.grouping.near import near_groups
from beetsplug.similar.grouping.streamed import streamed_groups
from beetsplug.similar.library import vectors
from beetsplug.similar.library.models import Photo, ensure_schema
from beetsplug.similar.library.photos import photos
from beetsplug.similar.library.selection import select
from beetsplug.similar.search import graph
from beetsplug.similar.search.exact import knn, prepare
from beetsplug.similar.search.reduce import Reduction, unit_rows

from .conftest import SimilarHelper

KEY = "xception/block14_sepconv2_act/none-seed0"  # what the config below asks for


def scenes(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Vectors like a library's: scenes on a low-rank structure, each a
    burst of 1 to 4 near-identical shots. Returns (vectors, scene of each)."""
    rng = np.random.default_rng(seed)
    scene = np.repeat(np.arange(n), rng.integers(1, 5, size=n))[:n]
    basis = rng.normal(size=(16, dim))
    centres = rng.normal(size=(scene[-1] + 1, 16)) @ basis + rng.normal(
        scale=2.0, size=(scene[-1] + 1, dim))
    x = centres[scene] + rng.normal(scale=0.3, size=(n, dim))
    return np.maximum(x, 0).astype(np.float32), scene


def test_the_reduction_never_brings_two_vectors_closer():
    x, _ = scenes(2000, 256)
    reduction = Reduction(x[:500], dims=16)
    reduced, norms = reduction.project(x)
    unit, _ = unit_rows(x)
    a, b = np.random.default_rng(1).integers(0, len(x), size=(2, 5000))
    full = ((unit[a] - unit[b]) ** 2).sum(1)
    assert np.all(((reduced[a] - reduced[b]) ** 2).sum(1) <= full + 1e-5)
    # and the rows for the euclidean chain, against the stored vectors
    rows = reduction.metric_rows(reduced, norms, "euclidean")
    assert np.all(((rows[a] - rows[b]) ** 2).sum(1) <= ((x[a] - x[b]) ** 2).sum(1) * 1.0001)


def test_a_graph_on_the_leading_axes_measures_on_every_axis(monkeypatch):
    """Above graph.LARGE rows, the graph is built on the leading PCA axes;
    the distances it returns are those on all 64, nearest first, and the
    burst-mates are found as they are with the whole rows."""
    x, scene = scenes(4000, 256)
    reduced, _ = Reduction(x[:1000], dims=64).project(x)
    whole, _ = graph.neighbours(reduced, 8)
    monkeypatch.setattr(graph, "LARGE", 1000)
    found, d2 = graph.neighbours(reduced, 8, leading=True)
    assert found.shape == (4000, 8) and not (found == np.arange(4000)[:, None]).any()
    full = ((reduced[found] - reduced[:, None, :]) ** 2).sum(-1)
    np.testing.assert_allclose(d2, full, rtol=1e-4, atol=1e-5)
    assert np.all(np.diff(d2, axis=1) >= 0)

    def mates(f):
        return (scene[f] == scene[:, None]).sum()

    assert mates(found) >= 0.99 * mates(whole) and mates(found) > 0


def test_groups_made_a_batch_at_a_time_are_the_groups_made_in_memory():
    x, scene = scenes(3000, 128)
    neighbours, _ = knn(prepare(x, "cosine"), 16)
    threshold = 0.01
    expected = near_groups(x, threshold, "cosine", neighbours=neighbours)
    loaded = []

    def load(points):
        loaded.append(len(points))
        return prepare(x[points], "cosine")

    # Candidates as the reduced space gives them: close pairs and more.
    unit = prepare(x, "cosine")
    rows, cols = np.repeat(np.arange(len(x)), 16), neighbours.reshape(-1)
    maybe = ((unit[rows] - unit[cols]) ** 2).sum(1) / 2 < threshold * 1.5
    got = streamed_groups(len(x), rows[maybe], cols[maybe], threshold, load, batch=100)
    assert got == expected
    assert len(expected) > 300 and all(len(set(scene[g])) == 1 for g in expected)
    assert len(loaded) > 10 and max(loaded) <= 100  # never more than a batch held


class TestBigLibrary(SimilarHelper):
    """A library of 1,500 photos with stored vectors, as `similar-featurize`
    leaves it (scale.py's benchmark library in small)."""

    def fill(self, n: int = 1500) -> np.ndarray:
        ensure_schema(self.lib)
        self.config["similar"].set({"model": "xception", "weights": "none", "depth": 1,
                                    "threshold": 0.01})
        x, scene = scenes(n, 256)
        rows = []
        for i in range(n):
            # every 50th photo is an exact copy of the one before (same bytes)
            digest = f"{i - 1 if i % 50 == 49 else i:064x}"
            photo = Photo(self.lib, path=f"/photos/IMG_{i:05d}.jpg".encode(),
                          origname=f"IMG_{i:05d}.jpg", hash=digest, format="JPEG",
                          taken=1.6e9 + 10 * i, camera="Canon EOS R6" if i % 3 else "")
            photo.add(self.lib)
            rows.append((photo.id, digest, x[i - 1 if i % 50 == 49 else i]))
        vectors.save(self.lib, KEY, rows, "float16")
        copies = np.arange(49, n, 50)
        scene[copies] = scene[copies - 1]
        return scene

    def groups(self, capsys) -> list[set[int]]:
        out = self.run_output(capsys, "similar-dupes", "-f", "$id")
        return sorted(({int(i) for i in re.findall(r"^  [* =] (\d+)\b", block, re.M)}
                       for block in re.split(r"^group \d+", out, flags=re.M)[1:]), key=min)

    @pytest.mark.slow
    def test_dupes_above_the_exact_limit_find_the_same_groups(self, capsys, monkeypatch):
        scene = self.fill()
        exact = self.groups(capsys)
        monkeypatch.setattr(dupes_job, "EXACT_CANDIDATES", 200)  # the reduced space
        reduced = self.groups(capsys)
        assert reduced == exact
        assert len(exact) > 200 and all(len({scene[i - 1] for i in g}) == 1 for g in exact)

    @pytest.mark.slow
    def test_fast_order_keeps_every_group_together(self, capsys):
        self.fill()
        groups = self.groups(capsys)
        out = self.run_output(capsys, "similar-order", "--fast", "--no-rename")
        assert "ordered 1500 photos (fast, euclidean)" in out
        assert "in the reduced space" in out and "stored ranks of 1500 photos" in out
        rank = {p.id: p.rank for p in photos(self.lib)}
        assert sorted(rank.values()) == list(range(1, 1501))
        for group in groups:
            ranks = sorted(rank[i] for i in group)
            assert ranks[-1] - ranks[0] == len(group) - 1, group

    @pytest.mark.slow
    def test_fast_order_can_start_at_the_earliest_photo(self):
        self.fill(300)
        self.run_command("similar-order", "--fast", "--no-rename", "--start", "earliest")
        first = min(photos(self.lib), key=lambda p: p.rank)
        assert first.taken == min(p.taken for p in photos(self.lib))

    @pytest.mark.slow
    def test_a_threshold_that_links_everything_is_one_line(self, monkeypatch):
        self.fill(600)
        monkeypatch.setattr(dupes_job, "EXACT_CANDIDATES", 200)
        monkeypatch.setattr(reduced, "streamed_groups",
                            functools.partial(streamed_groups, batch=300))
        with pytest.raises(UserError, match=r"pictures are linked .* lower the threshold"):
            self.run_command("similar-dupes", "-t", "1.5")

    @pytest.mark.parametrize("query,sort", [
        ([], "path+"), (["camera:Canon"], "path+"), ([], "taken-"),
        (["rank:0", "taken-"], "path+"), (["duplicate_of:3"], "path+"),
        (["camera:Canon"], "duplicate_of+"),
    ])
    def test_a_query_read_as_columns_matches_the_photos_it_names(self, query, sort):
        self.fill(120)
        for photo in photos(self.lib, ["id:..40"]):
            photo["duplicate_of"] = 3 if photo.id % 2 else 4  # a flexible attribute
            photo.store()
        sel = select(self.lib, query, sort)
        found = list(photos(self.lib, query, sort))
        assert sel.ids.tolist() == [p.id for p in found] and len(found) > 10
        assert sel.hashes == [p.hash for p in found]
        assert [p.id for p in sel.photos([3, 0])] == [found[3].id, found[0].id]
        # Made from plain rows, they hold what beets' own objects hold.
        made = sel.photos()
        assert [dict(p) for p in made] == [dict(p) for p in found]
        assert [p.evaluate_template("$path $duplicate_of") for p in made] == \
            [p.evaluate_template("$path $duplicate_of") for p in found]
        # Queries and sorts beets evaluates in Python go through Photo objects.
        slow = any("duplicate_of" in part for part in (*query, sort))
        assert (sel._photos is not None) == slow


def test_float16_vectors_widen_exactly():
    from beetsplug.similar.library.vectors import _as_float32

    rng = np.random.default_rng(0)
    rows = rng.normal(size=(50, 300)).astype(np.float16)
    rows[:, :5] = np.float16(3e-7)  # subnormal in float16
    rows[:, 5] = 0
    scales = rng.uniform(1e-8, 5, size=50).astype(np.float32)
    expected = rows.astype(np.float32) * scales[:, None]
    assert np.array_equal(_as_float32(rows, scales), expected)


@pytest.mark.slow
class TestFastOnRealPhotos(SimilarHelper):
    """`--fast` from 64 photos up: the reduced space, on real files."""

    def test_fast_order_renames_exports_and_undoes(self, tmp_path, capsys):
        from beetsplug.similar import samples

        from .test_order_command import tree_state

        root = self.photos_dir()
        samples.make_groups(str(root), groups=24, per_group=3, size=(160, 120))
        (root / "again.jpg").write_bytes((root / "photo_0005.jpg").read_bytes())
        before = tree_state(root)
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "threshold": 0.003})
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        groups = self.groups(capsys)
        export = tmp_path / "features.csv"
        out = self.run_output(capsys, "similar-order", "--fast", "--export", str(export))
        assert "ordered 73 photos (fast, euclidean)" in out and "in the reduced space" in out
        ranked = sorted(photos(self.lib), key=lambda p: p.rank)
        assert [p.rank for p in ranked] == list(range(1, 74))
        assert all(p.filepath.name == f"{p.rank:04d}-{p.origname}" and p.filepath.exists()
                   for p in ranked)
        rank = {p.origname: p.rank for p in ranked}
        assert abs(rank["again.jpg"] - rank["photo_0005.jpg"]) == 1  # exact copies
        by_id = {p.id: p.rank for p in ranked}
        assert groups and all(max(by_id[i] for i in g) - min(by_id[i] for i in g)
                              == len(g) - 1 for g in groups)
        frame = pd.read_csv(export)
        assert list(frame["R"]) == list(range(1, 74))
        # written before the renames, as the original scripts' analyze step
        assert list(frame["images"]) == [str(root / p.origname) for p in ranked]
        self.run_command("similar-undo")
        assert tree_state(root) == before

    groups = TestBigLibrary.groups

    def test_a_report_above_the_exact_limit_uses_the_reduced_space(self, tmp_path, capsys,
                                                                   monkeypatch):
        from beetsplug.similar import samples

        root = self.photos_dir()
        samples.make_groups(str(root), groups=24, per_group=3, size=(160, 120))
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "threshold": 0.003})
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        groups = self.groups(capsys)
        monkeypatch.setattr(dupes_job, "EXACT_CANDIDATES", 20)
        page = tmp_path / "report.html"
        out = self.run_output(capsys, "similar-report", "--all", "-o", str(page))
        assert f"72 photos in order, {len(groups)} groups framed" in out and groups
        html = page.read_text()
        assert html.count('class="name"') == 72 and html.count("data-group=") == len(groups)
        assert html.count(" from the photo before</div>") == 71  # read a block at a time
        assert all(p.rank == 0 for p in photos(self.lib))  # nothing stored
