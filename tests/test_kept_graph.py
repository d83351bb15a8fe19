"""The neighbour graph of a big library, kept between runs (``search/kept.py``)
and brought up to date as photos come and go (``search/slots.py``), from
the database's log of vector changes (``library/vector_log.py``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from beets.exceptions import UserError

from beetsplug.similar.dupes import job as dupes_job
from beetsplug.similar.library import vector_log, vectors
from beetsplug.similar.library.models import Photo, ensure_schema
from beetsplug.similar.library.photos import photos
from beetsplug.similar.search import graph, kept, slots
from beetsplug.similar.search.reduce import Reduction

from . import test_scale
from .conftest import SimilarHelper
from .test_scale import KEY

pytestmark = pytest.mark.slow  # a library of a million, in small


class TestKeptGraph(SimilarHelper):
    """1,500 photos with stored vectors, the reduced space and the kept
    graph from 200 pictures up (a library of a million, in small)."""

    @pytest.fixture(autouse=True)
    def small_limits(self, monkeypatch):
        monkeypatch.setattr(dupes_job, "EXACT_CANDIDATES", 200)
        monkeypatch.setattr(kept, "MIN_PICTURES", 200)
        self.monkeypatch = monkeypatch
        self.builds = 0
        build = graph.index

        def counted(*args, **kwargs):
            self.builds += 1
            return build(*args, **kwargs)

        monkeypatch.setattr(graph, "index", counted)

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

    def exact_groups(self, capsys) -> list[set[int]]:
        """The groups found on the full vectors, without a graph."""
        with self.monkeypatch.context() as m:
            m.setattr(dupes_job, "EXACT_CANDIDATES", 10**9)
            return self.groups(capsys)

    def test_photos_added_featurized_again_or_removed_update_it(self, capsys):
        scene = self.fill()
        self.groups(capsys)
        assert self.builds == 1
        # 60 new photos: a frame more of 30 bursts, and 30 new scenes
        rng = np.random.default_rng(7)
        burst = rng.choice(np.arange(0, 1400, 7), 30, replace=False) + 1  # photo ids
        _, near = vectors.load(self.lib, KEY, burst.tolist())
        new = np.concatenate([near + rng.normal(scale=0.05, size=near.shape),
                              rng.uniform(0, 8, size=(30, near.shape[1]))]).astype(np.float32)
        rows = []
        for i, x in enumerate(new):
            photo = Photo(self.lib, path=f"/photos/NEW_{i:03d}.jpg".encode(),
                          hash=f"{10**6 + i:064x}", format="JPEG")
            photo.add(self.lib)
            rows.append((photo.id, photo.hash, x))
        vectors.save(self.lib, KEY, rows, "float16")
        added = self.groups(capsys)
        assert self.builds == 1, "brought up to date, not built again"
        assert added == self.exact_groups(capsys)
        joined = [g for g in added if g & {pid for pid, _, _ in rows}]
        assert len(joined) >= 25 and all(len({scene[i - 1] for i in g if i <= 1500}) == 1
                                         for g in joined)
        # one photo featurized again, far from its burst
        (grouped,) = [g for g in added if 7 in g]
        far = rng.uniform(0, 1, size=256).astype(np.float32)
        vectors.save(self.lib, KEY, [(7, f"{6:064x}", far)], "float16")
        again = self.groups(capsys)
        assert self.builds == 1 and again == self.exact_groups(capsys)
        assert [g for g in again if 7 in g] == []
        assert len(grouped) == 2 or grouped - {7} in again
        # a photo forgotten, and its vector with it
        gone = next(iter(photos(self.lib, [f"id:{min(joined[0])}"])))
        gone.remove()
        assert self.groups(capsys) == self.exact_groups(capsys) and self.builds == 1
        # nothing changed: loaded as it was kept, and the log has nothing left to tell
        assert self.groups(capsys) == self.exact_groups(capsys) and self.builds == 1
        with self.lib.transaction() as tx:
            assert tx.query("SELECT count(*) FROM similar_vector_log WHERE model = ?",
                            (KEY,))[0][0] == 0

    def test_featurize_keeps_the_graph_for_the_next_commands(self, capsys):
        self.fill()
        out = self.run_output(capsys, "similar-featurize")  # (the files are not there)
        assert self.builds == 1
        assert "building the neighbour graph of 1470 pictures, kept for the next commands" in out
        first = self.groups(capsys)
        assert self.builds == 1 and first == self.exact_groups(capsys)
        # vectors stored since (as by an import): brought up to date, not built again
        _, x = vectors.load(self.lib, KEY, [1])
        photo = Photo(self.lib, path=b"/photos/NEW.jpg", hash=f"{10**6:064x}", format="JPEG")
        photo.add(self.lib)
        vectors.save(self.lib, KEY, [(photo.id, photo.hash, x[0] * 1.01)], "float16")
        out = self.run_output(capsys, "similar-featurize")
        assert "the kept neighbour graph of 1471 pictures is up to date" in out
        assert self.builds == 1
        (joined,) = [g for g in self.groups(capsys) if photo.id in g]
        assert 1 in joined and self.builds == 1
        assert "neighbour graph" not in self.run_output(capsys, "similar-featurize")

    def test_a_query_many_changes_or_another_database_file_build_it_again(self, capsys):
        self.fill()
        self.groups(capsys)
        assert self.builds == 1
        # a query: the graph of its own pictures (a third of the library left out)
        canon = self.run_output(capsys, "similar-dupes", "-f", "$id", "camera:Canon")
        assert self.builds == 2 and canon.count("group ") > 100
        self.groups(capsys)
        assert self.builds == 3
        # a quarter of the library featurized again
        ids = np.arange(1, 1501, 4)
        _, x = vectors.load(self.lib, KEY, ids.tolist())
        hashes = {p.id: p.hash for p in photos(self.lib)}
        vectors.save(self.lib, KEY, [(int(i), hashes[int(i)], v) for i, v in zip(ids, x)],
                     "float16")
        assert self.groups(capsys) == self.exact_groups(capsys) and self.builds == 4
        # the database file put back from a backup: another file, another graph
        db = os.fsdecode(self.lib.path)
        shutil.copy(db, db + ".bak")
        os.replace(db + ".bak", db)
        self.groups(capsys)
        assert self.builds == 5

    def test_a_damaged_or_unwritable_cache_is_rebuilt_and_the_run_goes_on(self, capsys, caplog):
        self.fill()
        first = self.groups(capsys)
        (path,) = self.kept_files()
        path.write_bytes(b"PK\x03\x04 not a zip file")
        killed, writing = path.parent / ".graph-killed.tmp", path.parent / ".graph-now.tmp"
        for left in (killed, writing):  # one left by a run killed hours ago, one being written
            left.write_bytes(b"half a graph")
        os.utime(killed, (1e9, 1e9))
        assert self.groups(capsys) == first and self.builds == 2
        assert not killed.exists() and writing.exists()
        writing.unlink()
        assert self.groups(capsys) == first and self.builds == 2  # written whole again
        # the faiss graph inside it damaged, found when it is read to add a photo
        data = bytearray(path.read_bytes())
        at = data.index(b"index.npy") + 400
        data[at:at + 60] = bytes(60)
        path.write_bytes(bytes(data))
        _, x = vectors.load(self.lib, KEY, [1])
        photo = Photo(self.lib, path=b"/photos/NEW.jpg", hash=f"{10**6:064x}", format="JPEG")
        photo.add(self.lib)
        vectors.save(self.lib, KEY, [(photo.id, photo.hash, x[0])], "float16")
        assert self.groups(capsys) == self.exact_groups(capsys) and self.builds == 3
        assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~kept._umask())
        # the folder cannot be written: one line, and the same groups
        for f in self.kept_files():
            f.unlink()
        folder = path.parent
        folder.rmdir()
        folder.write_text("a file where the cache folder would be\n")
        with caplog.at_level("WARNING", logger="beets"):
            assert self.groups(capsys) == self.exact_groups(capsys)
        warned = [r.getMessage() for r in caplog.records
                  if r.levelname == "WARNING" and "neighbour graph" in r.getMessage()]
        assert len(warned) == 1 and "the next run does this work again" in warned[0]
        assert not list(folder.parent.glob(".graph-*"))

    def test_a_backup_copied_over_the_database_builds_it_again(self, capsys):
        self.fill()
        self.groups(capsys)
        db = os.fsdecode(self.lib.path)
        shutil.copyfile(db, db + ".bak")
        # since the backup: 30 photos featurized again, the graph follows them
        _, x = vectors.load(self.lib, KEY, list(range(700, 730)))
        hashes = {p.id: p.hash for p in photos(self.lib, ["id:1..30"])}
        vectors.save(self.lib, KEY, [(i, hashes[i], v) for i, v in zip(range(1, 31), x)],
                     "float16")
        assert self.groups(capsys) == self.exact_groups(capsys) and self.builds == 1
        inode = os.stat(db).st_ino
        shutil.copyfile(db + ".bak", db)  # put back in place: the same file
        assert os.stat(db).st_ino == inode
        restored = self.groups(capsys)
        assert self.builds == 2 and restored == self.exact_groups(capsys)

    def test_photos_removed_while_it_runs_stop_it_with_one_line(self, capsys, monkeypatch):
        self.fill()
        build = dupes_job.build

        def then_removed(*args, **kwargs):  # another process, while the graph is read
            space = build(*args, **kwargs)
            with self.lib.transaction() as tx:
                tx.mutate("DELETE FROM similar_features WHERE photo_id <= 100")
            return space

        monkeypatch.setattr(dupes_job, "build", then_removed)
        with pytest.raises(UserError, match="removed from the library while this ran; "
                                            "run it again"):
            self.run_command("similar-dupes", "-f", "$id")
        monkeypatch.setattr(dupes_job, "build", build)
        assert self.groups(capsys) == self.exact_groups(capsys)

    def test_changes_not_logged_build_it_again(self, capsys):
        self.fill()
        first = self.groups(capsys)
        with self.lib.transaction() as tx:  # a hand-edited database: changes not logged
            tx.mutate("DROP TRIGGER similar_features_log_update")
            tx.mutate("UPDATE similar_features SET scale = 0 WHERE photo_id = 7")
        self.lib._similar_schema_ready = False  # the next start puts the log back
        again = self.groups(capsys)
        assert self.builds == 2 and again == self.exact_groups(capsys)
        assert [g for g in again if 7 in g] == [] and again != first
        assert self.groups(capsys) == again and self.builds == 2

    def test_every_change_to_the_vectors_is_logged(self):
        self.fill(60)
        seq = vector_log.position(self.lib)
        assert list(vector_log.changed_since(self.lib, KEY, seq)) == []
        vectors.save(self.lib, KEY, [(1, "0" * 64, np.ones(256, np.float32))])
        vectors.save(self.lib, "another/key", [(2, "0" * 64, np.ones(256, np.float32))])
        with self.lib.transaction() as tx:  # a writer that is not this plugin
            tx.mutate("UPDATE similar_features SET scale = scale * 2 WHERE photo_id = 3")
            tx.mutate("DELETE FROM similar_features WHERE photo_id = 4")
        next(iter(photos(self.lib, ["id:5"]))).remove()  # and its vector with it
        assert list(vector_log.changed_since(self.lib, KEY, seq)) == [1, 3, 4, 5]
        assert list(vector_log.changed_since(self.lib, "another/key", seq)) == [2]
        # pruned: what is before is seen; from before it, the log cannot tell
        now = vector_log.position(self.lib)
        vector_log.seen(self.lib, KEY, now, made=12345)
        assert vector_log.kept_graph(self.lib, KEY) == 12345
        assert vector_log.changed_since(self.lib, KEY, seq) is None
        assert list(vector_log.changed_since(self.lib, KEY, now)) == []
        assert list(vector_log.changed_since(self.lib, "another/key", seq)) == [2]

    def test_a_database_of_the_version_that_counted_changes_logs_them(self):
        self.fill(60)
        with self.lib.transaction() as tx:  # the triggers of the version before
            for event in ("insert", "update", "delete"):
                tx.mutate(f"DROP TRIGGER similar_features_log_{event}")
                tx.mutate(f"CREATE TRIGGER similar_features_{event} AFTER {event.upper()} "
                          "ON similar_features BEGIN UPDATE similar_counters "
                          "SET value = value + 1 WHERE name = 'features'; END")
        seq = vector_log.position(self.lib)
        self.lib._similar_schema_ready = False
        ensure_schema(self.lib)
        with self.lib.transaction() as tx:
            names = {r[0] for r in tx.query(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        assert names == {f"similar_features_log_{e}" for e in ("insert", "update", "delete")}
        assert vector_log.changed_since(self.lib, KEY, seq) is None  # not logged then
        mark = vector_log.position(self.lib)
        vectors.save(self.lib, KEY, [(1, "0" * 64, np.ones(256, np.float32))])
        assert list(vector_log.changed_since(self.lib, KEY, mark)) == [1]


def test_an_updated_graph_finds_what_a_new_one_finds():
    """Slots updated with rows added, removed and changed: each live row's
    list is as good as a graph built anew on the same rows (the exact
    neighbours, on random rows of 64 dimensions)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3_700, 64)).astype(np.float32)
    reduction = Reduction.of(np.eye(64, dtype=np.float32), np.zeros(64, np.float32))
    ids = np.arange(1, 3_001)
    built = slots.Slots.built(reduction, ids, *reduction.project(x[:3_000]), 16, seq=0)
    kept_index = built.index
    built.index = None
    changed = np.arange(211, 261)  # featurized again: other vectors
    x[changed - 1] = rng.normal(size=(50, 64))
    heads = np.concatenate([np.arange(101, 3_001), np.arange(3_001, 3_301)])  # 100 gone, 300 new
    assert built.update(heads, changed, 9, lambda wanted: x[wanted - 1], lambda: kept_index)
    assert built.seq == 9 and (built.ids >= 0).sum() == len(heads)
    reduced, _, found, d2 = built.of(heads)
    assert np.allclose(reduced, reduction.project(x[heads - 1])[0], atol=1e-5)
    full = ((reduced[:, None, :] - reduced[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(full, np.inf)
    truth = np.argsort(full, axis=1)[:, :16]

    def recall(lists):
        return np.mean([len(set(a) & set(b)) / 16 for a, b in zip(lists, truth)])

    anew = slots.Slots.built(reduction, heads, reduced, np.ones(len(heads)), 16, seq=0)
    assert recall(found) > 0.9 and recall(found) > recall(anew.neighbours) - 0.02
    assert np.allclose(d2, np.take_along_axis(full, found, axis=1), rtol=1e-4, atol=1e-4)
    # too much changed since it was built: built again
    assert built.update(np.arange(3_001, 3_301), [], 10, lambda w: x[w - 1], None) is None
    # slots dead and added since it was built: 150 and 450 of 3,300 pictures,
    # then 150 and 750 of 3,600
    assert built.update(np.arange(101, 3_401), [], 11, lambda w: x[w - 1], None)
    assert built.update(np.arange(101, 3_701), [], 12, lambda w: x[w - 1], None) is None
    assert (built.ids >= 0).sum() == 3_300
