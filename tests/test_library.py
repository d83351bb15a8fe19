"""The photo library: import, list, query, events, schema migration."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3

import pytest
from beets import plugins
from beets.exceptions import UserError
from beets.library import Library

from beetsplug.similar import samples
from beetsplug.similar.library.models import Photo, ensure_schema
from beetsplug.similar.library.photos import photos

from .conftest import SimilarHelper, run_beet, write_config


def make_library_folder(root, n_scenes=190, n_copies=6, n_corrupt=4):
    """n_scenes distinct photos, n_copies exact copies, n_corrupt bad files."""
    root.mkdir(parents=True, exist_ok=True)
    originals = []
    for i in range(n_scenes):
        sub = root / f"trip{i % 3}"
        path = str(sub / f"IMG_{i:04d}.jpg")
        samples.save_photo(samples.scene(1000 + i, (96, 64)), path, seed=i)
        originals.append(path)
    copies = {}
    for i in range(n_copies):
        dst = str(root / "copies" / f"copy_{i}.jpg")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(originals[i * 7], dst)
        copies[dst] = originals[i * 7]
    bad = samples.write_bad_files(str(root / "bad"), originals[0])
    assert len(bad) == n_corrupt
    (root / "notes.txt").write_text("not a photo")
    return originals, copies, bad


class TestImportAndList(SimilarHelper):
    def test_import_200_lists_valid_finds_copies_reports_corrupt(self, capsys, caplog):
        root = self.photos_dir()
        originals, copies, bad = make_library_folder(root)
        out = self.run_output(capsys, "similar-import", str(root))
        assert "imported 196 new" in out and "4 skipped" in out
        for path in bad.values():  # one line each, naming the file
            assert sum(path in r.getMessage() for r in caplog.records) == 1

        listed = self.run_output(capsys, "similar-ls", "-f", "$path").split()
        assert sorted(listed) == sorted(originals + list(copies))

        copy_lines = self.run_output(capsys, "similar-ls", "--copies", "-f", "$hash $path").splitlines()
        pairs = {}
        for line in copy_lines:
            digest, path = line.split(" ", 1)
            pairs.setdefault(digest, set()).add(path)
        assert sorted(map(sorted, pairs.values())) == sorted(
            sorted([c, o]) for c, o in copies.items())

        # Re-importing adds nothing.
        out = self.run_output(capsys, "similar-import", str(root))
        assert "imported 0 new, 0 updated, 196 unchanged" in out
        assert len(photos(self.lib)) == 196

    def test_fields_and_queries(self, capsys):
        root = self.photos_dir()
        samples.save_photo(samples.scene(1, (120, 80)), str(root / "a" / "one.jpg"), seed=0)  # Canon 2019-01-01
        samples.save_photo(samples.scene(2, (120, 80)), str(root / "b" / "two.png"), seed=1)  # Nikon 2019-01-02
        samples.save_photo(samples.scene(3, (120, 80)), str(root / "b" / "three.jpg"), seed=2, orientation=6)
        self.run_command("similar-import", str(root))

        def ls(*q, fmt="$filename"):
            return self.run_output(capsys, "similar-ls", "-f", fmt, *q).splitlines()

        assert ls("camera:canon") == ["one.jpg"]
        assert ls("camera:nikon", "year:2019") == ["two.png"]
        assert ls("ext:png") == ["two.png"]
        assert ls(f"path:{root / 'b'}") == ["three.jpg", "two.png"]
        assert ls("stem::^t") == ["three.jpg", "two.png"]
        assert ls("taken:2019-01-02..2019-01-02") == ["two.png"]
        assert ls("width:80", fmt="$filename-${width}x$height") == ["three.jpg-80x120"]
        assert ls("day:01..02", "taken+") == ["one.jpg", "two.png"]
        assert ls("two") == ["two.png"]  # unqualified: file name and camera
        one = ls("one", fmt="$year-$month-$day|$camera|$size|$hash|$folder|$origname|$megapixels")[0]
        year, camera, size, digest, folder, origname, mp = one.split("|")
        assert (year, camera, origname, mp) == ("2019-01-01", "Canon EOS 5D Mark IV", "one.jpg", "0.0")
        assert int(size) == os.path.getsize(root / "a" / "one.jpg")
        assert len(digest) == 64 and folder == str(root / "a")

    def test_changed_file_is_reread(self, capsys):
        root = self.photos_dir()
        path = str(root / "x.jpg")
        samples.save_photo(samples.scene(1, (60, 40)), path, seed=0)
        self.run_command("similar-import", str(root))
        old = photos(self.lib).get()
        samples.save_photo(samples.scene(2, (90, 40)), path, seed=0)
        os.utime(path, (old.mtime + 10, old.mtime + 10))
        out = self.run_output(capsys, "similar-import", str(root))
        assert "0 new, 1 updated" in out
        new = photos(self.lib).get()
        assert new.id == old.id and new.width == 90 and new.hash != old.hash

    def test_events_fire_per_photo_and_once_per_run(self):
        seen, done = [], []
        plugins.BeetsPlugin.listeners["similar_photo_imported"].append(
            lambda lib, photo, new: seen.append((photo.origname, new)))
        plugins.BeetsPlugin.listeners["similar_import_done"].append(
            lambda lib, photos: done.append(len(photos)))
        root = self.photos_dir()
        for i in range(3):
            samples.save_photo(samples.scene(i), str(root / f"{i}.jpg"), seed=i)
        self.run_command("similar-import", str(root))
        assert sorted(seen) == [("0.jpg", True), ("1.jpg", True), ("2.jpg", True)]
        assert done == [3]

    def test_bad_query_and_missing_path_are_user_errors(self):
        with pytest.raises(UserError, match="invalid query"):
            self.run_command("similar-ls", "year:abc..def")
        with pytest.raises(UserError, match="no such file"):
            self.run_command("similar-import", str(self.temp_path / "nope"))


def test_schema_migration_keeps_rows(tmp_path):
    """A database made before a column existed gains it and keeps its rows."""
    db = tmp_path / "lib.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE similar_photos (id INTEGER PRIMARY KEY, path BLOB, hash TEXT)")
    conn.execute("INSERT INTO similar_photos (path, hash) VALUES (?, ?)", (b"/p/old.jpg", "abc"))
    conn.commit()
    conn.close()
    lib = Library(str(db), str(tmp_path / "music"))
    ensure_schema(lib)
    got = list(photos(lib))
    assert len(got) == 1 and got[0].hash == "abc" and got[0].rank == 0
    got[0].camera = "Canon"
    got[0].store()
    assert photos(lib, ["camera:Canon"]).get().path == b"/p/old.jpg"
    cols = {r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(similar_photos)")}
    assert set(Photo._fields) <= cols
    # Music tables are untouched and still work.
    assert len(lib.items()) == 0


def test_old_depth_keys_are_renamed(tmp_path):
    """Vectors stored under a depth number (``xception/d2/...``) are found
    under their layer's name; keys already named by layer stay as they are."""
    db = tmp_path / "lib.db"
    lib = Library(str(db), str(tmp_path / "music"))
    ensure_schema(lib)
    with lib.transaction() as tx:
        for pid, model in ((1, "xception/d2/imagenet"), (2, "xception/block14_sepconv2_act/x")):
            tx.mutate("INSERT INTO similar_features (photo_id, model, dim, dtype, vector, hash)"
                      " VALUES (?, ?, 1, 'float16', x'0000', 'h')", (pid, model))
    ensure_schema(Library(str(db), str(tmp_path / "music")))
    models = sorted(r[0] for r in sqlite3.connect(db).execute(
        "SELECT model FROM similar_features"))
    assert models == ["xception/block14_sepconv1_act/imagenet",
                      "xception/block14_sepconv2_act/x"]


def test_real_command_line(tmp_path):
    """`beet similar-import` and `beet similar-ls` through the real entry point."""
    beetsdir = write_config(tmp_path / "beets")
    root = tmp_path / "pics"
    samples.save_photo(samples.scene(1, (64, 48)), str(root / "a.jpg"), seed=0)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    proc = run_beet(beetsdir, "similar-import", str(root))
    assert "imported 1 new" in proc.stdout
    assert f"{root / 'broken.jpg'}" in proc.stderr and proc.stderr.count("broken.jpg") == 1
    ls = run_beet(beetsdir, "similar-ls", "camera:canon")
    assert ls.stdout.strip() == str(root / "a.jpg")
    music = sqlite3.connect(beetsdir / "library.db").execute(
        "SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    assert {("items",), ("similar_photos",), ("similar_features",)} <= set(music)


class TestPhotosUnderBeetsDirectory(SimilarHelper):
    """Photos stay where they are: a row keeps its absolute path when beets'
    ``directory:`` (where the music goes) changes."""

    def test_rows_keep_pointing_at_their_files_when_the_directory_changes(self, monkeypatch):
        top = self.lib.directory.decode()
        shoot = os.path.join(top, "shoot")
        for i in range(2):
            samples.save_photo(samples.scene(i, (64, 48)), os.path.join(shoot, f"{i}.jpg"), i)
        self.run_command("similar-import", shoot)
        with self.lib.transaction() as tx:
            stored = sorted(bytes(p) for (p,) in tx.query("SELECT path FROM similar_photos"))
        assert stored == [os.fsencode(os.path.join(shoot, f"{i}.jpg")) for i in range(2)]

        moved = Library(self.lib.path, str(self.temp_path / "elsewhere"))
        ensure_schema(moved)
        assert sorted(p.path for p in photos(moved)) == stored
        assert all(os.path.exists(p.path) for p in photos(moved))
        # Folder queries: absolute, and relative to the current folder.
        assert len(photos(moved, [shoot])) == len(photos(moved, [f"path:{shoot}"])) == 2
        monkeypatch.chdir(top)
        assert len(photos(moved, ["path:shoot/1.jpg"])) == 1
        assert len(photos(moved, ["path:elsewhere"])) == 0


def relative_rows(lib, names) -> None:
    """Rows as a version before absolute paths stored them under beets'
    directory: relative to it, and no mark that they were made absolute."""
    with lib.transaction() as tx:
        tx.mutate("DELETE FROM similar_counters WHERE name = 'paths_absolute'")
        tx.mutate_many("INSERT INTO similar_photos (path, hash) VALUES (?, ?)",
                       [(os.fsencode(f"shoot/{n}"), n) for n in names])


def test_relative_rows_are_made_absolute_once(tmp_path):
    music = tmp_path / "music"
    lib = Library(str(tmp_path / "lib.db"), str(music))
    ensure_schema(lib)
    relative_rows(lib, ["a.jpg", "b.jpg"])
    with lib.transaction() as tx:  # a trash run kept one, as trash/store.py writes it
        tx.script("CREATE TABLE similar_trash_rows (run_id INTEGER, photo_id INTEGER, "
                  "role TEXT, keeper_id INTEGER, data TEXT)")
        snap = {"similar_photos": [{"id": 9, "path": {"$b": "c2hvb3QvYy5qcGc="}}],  # shoot/c.jpg
                "similar_companions": []}
        tx.mutate("INSERT INTO similar_trash_rows VALUES (1, 9, 'extra', NULL, ?)",
                  (json.dumps(snap),))
    ensure_schema(Library(str(tmp_path / "lib.db"), str(music)))

    conn = sqlite3.connect(tmp_path / "lib.db")
    assert sorted(bytes(p) for (p,) in conn.execute("SELECT path FROM similar_photos")) == \
        [os.fsencode(music / "shoot" / n) for n in ("a.jpg", "b.jpg")]
    (data,) = conn.execute("SELECT data FROM similar_trash_rows").fetchone()
    kept = json.loads(data)["similar_photos"][0]["path"]["$b"]
    assert base64.b64decode(kept) == os.fsencode(music / "shoot" / "c.jpg")
    # Done once: a later change of directory moves nothing.
    other = Library(str(tmp_path / "lib.db"), str(tmp_path / "other"))
    ensure_schema(other)
    assert sorted(p.path for p in photos(other)) == \
        [os.fsencode(music / "shoot" / n) for n in ("a.jpg", "b.jpg")]


def test_an_interrupted_migration_goes_on_where_it_stopped(tmp_path, monkeypatch):
    from beetsplug.similar.library import paths

    music = tmp_path / "music"
    lib = Library(str(tmp_path / "lib.db"), str(music))
    ensure_schema(lib)
    relative_rows(lib, [f"{i}.jpg" for i in range(7)])
    original = paths._absolute
    calls = []

    def killed_after_two(directory, path):
        calls.append(path)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return original(directory, path)

    monkeypatch.setattr(paths, "_absolute", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        paths.make_absolute(lib, chunk=2)
    monkeypatch.setattr(paths, "_absolute", original)
    with lib.transaction() as tx:
        stored = [bytes(p) for (p,) in tx.query("SELECT path FROM similar_photos ORDER BY id")]
    assert [os.path.isabs(p) for p in stored] == [True, True] + [False] * 5  # chunk by chunk
    paths.make_absolute(lib, chunk=2)
    assert sorted(p.path for p in photos(lib)) == \
        sorted(os.fsencode(music / "shoot" / f"{i}.jpg") for i in range(7))
