"""The neighbour graph of a big library, kept between runs (``search/kept.py``):
used only when the pictures and their vectors are unchanged."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from beetsplug.similar.dupes import job as dupes_job
from beetsplug.similar.library import vectors
from beetsplug.similar.library.models import vector_changes
from beetsplug.similar.library.photos import photos
from beetsplug.similar.search import graph, kept

from . import test_scale
from .conftest import SimilarHelper
from .test_scale import KEY


class TestKeptGraph(SimilarHelper):
    """1,500 photos with stored vectors, the reduced space and the kept
    graph from 200 pictures up (a library of a million, in small)."""

    @pytest.fixture(autouse=True)
    def small_limits(self, monkeypatch):
        monkeypatch.setattr(dupes_job, "EXACT_CANDIDATES", 200)
        monkeypatch.setattr(kept, "MIN_PICTURES", 200)
        self.builds = 0
        build = graph.neighbours

        def counted(*args, **kwargs):
            self.builds += 1
            return build(*args, **kwargs)

        monkeypatch.setattr(graph, "neighbours", counted)

    fill = test_scale.TestBigLibrary.fill
    groups = test_scale.TestBigLibrary.groups

    def kept_files(self) -> list:
        folder = Path(os.fsdecode(self.lib.path)).parent / kept.FOLDER
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def test_a_second_run_uses_the_kept_graph_and_finds_the_same(self, capsys):
        scene = self.fill()
        first = self.groups(capsys)
        assert self.builds == 1
        assert [f.suffix for f in self.kept_files()] == [".npz"]
        assert len(first) > 200 and all(len({scene[i - 1] for i in g}) == 1 for g in first)
        assert self.groups(capsys) == first and self.builds == 1
        # similar-order reads the same graph, and keeps every group together
        self.run_command("similar-order", "--fast", "--no-rename")
        assert self.builds == 1
        rank = {p.id: p.rank for p in photos(self.lib)}
        assert all(max(rank[i] for i in g) - min(rank[i] for i in g) == len(g) - 1
                   for g in first)

    def test_changed_vectors_or_pictures_build_it_again(self, capsys):
        self.fill()
        first = self.groups(capsys)
        builds = self.builds
        # one photo featurized again, with a vector far from its burst
        one = next(iter(photos(self.lib, ["id:7"])))
        far = np.random.default_rng(5).uniform(0, 1, size=256).astype(np.float32)
        vectors.save(self.lib, KEY, [(one.id, one.hash, far)], "float16")
        again = self.groups(capsys)
        assert self.builds == builds + 1
        assert [g for g in again if 7 in g] == []
        assert [g - {7} for g in again if len(g - {7}) > 1] == \
            [g - {7} for g in first if len(g - {7}) > 1]
        assert self.groups(capsys) == again and self.builds == builds + 1
        # a photo forgotten: other pictures, another graph
        one.remove()
        self.groups(capsys)
        assert self.builds == builds + 2
        # a query: the graph of its own pictures, with its own groups
        canon = self.run_output(capsys, "similar-dupes", "-f", "$id", "camera:Canon")
        assert self.builds == builds + 3 and canon.count("group ") > 100
        self.groups(capsys)
        assert self.builds == builds + 4
        # the database file put back from a backup: another file, another graph
        db = os.fsdecode(self.lib.path)
        shutil.copy(db, db + ".bak")
        os.replace(db + ".bak", db)
        self.groups(capsys)
        assert self.builds == builds + 5

    def test_a_damaged_or_unwritable_cache_is_rebuilt_and_the_run_goes_on(self, capsys, caplog):
        self.fill()
        first = self.groups(capsys)
        (path,) = self.kept_files()
        path.write_bytes(b"PK\x03\x04 not a zip file")
        assert self.groups(capsys) == first and self.builds == 2
        assert self.groups(capsys) == first and self.builds == 2  # written whole again
        # the folder cannot be written: one line, and the same groups
        for f in self.kept_files():
            f.unlink()
        folder = path.parent
        folder.rmdir()
        folder.write_text("a file where the cache folder would be\n")
        with caplog.at_level("WARNING", logger="beets"):
            assert self.groups(capsys) == first
        warned = [r.getMessage() for r in caplog.records
                  if r.levelname == "WARNING" and "neighbour graph" in r.getMessage()]
        assert len(warned) == 1 and "the next run builds it again" in warned[0]
        assert not list(folder.parent.glob(".graph-*"))

    def test_without_its_count_of_changes_nothing_is_kept(self, capsys):
        self.fill()
        with self.lib.transaction() as tx:  # a hand-edited database
            tx.mutate("DELETE FROM similar_counters")
        first = self.groups(capsys)
        assert self.groups(capsys) == first and self.builds == 2
        assert self.kept_files() == []

    def test_every_change_to_the_vectors_is_counted(self):
        self.fill(60)
        before = vector_changes(self.lib)
        vectors.save(self.lib, KEY, [(1, "0" * 64, np.ones(256, np.float32))])
        assert vector_changes(self.lib) == before + 1
        with self.lib.transaction() as tx:  # a writer that is not this plugin
            tx.mutate("UPDATE similar_features SET scale = scale * 2 WHERE photo_id = 2")
            tx.mutate("DELETE FROM similar_features WHERE photo_id = 3")
        assert vector_changes(self.lib) == before + 3
        next(iter(photos(self.lib, ["id:4"]))).remove()  # and its vector with it
        assert vector_changes(self.lib) == before + 4
        with self.lib.transaction() as tx:  # the count deleted by hand: nothing is kept
            tx.mutate("DELETE FROM similar_counters")
        assert vector_changes(self.lib) is None
