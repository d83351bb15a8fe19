"""`beet similar-review`: its JSON endpoints, through Flask's test client,
on a real featurized library of generated photos."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import ClassVar

import pytest
from beets import plugins
from PIL import Image

from beetsplug.similar import samples
from beetsplug.similar.commands.review import open_review
from beetsplug.similar.library import decisions
from beetsplug.similar.library.photos import photos
from beetsplug.similar.review.fields import differences
from beetsplug.similar.review.previews import Previews
from beetsplug.similar.review.server import create_app

from .conftest import SimilarHelper, copy_tree

THRESHOLD = 0.003  # untrained MobileNetV3Small: one scene per group (see test_dupes_report)
TOKEN = "test-token"


@pytest.fixture
def trash_home(tmp_path, monkeypatch) -> Path:
    """A home and an XDG trash of the test's own, so nothing lands in the
    real trash; returns the trash's ``files`` folder."""
    from send2trash import plat_other

    home = tmp_path / "home"
    data = home / ".local" / "share"
    data.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setattr(plat_other, "XDG_DATA_HOME", os.fsencode(data))
    monkeypatch.setattr(plat_other, "HOMETRASH_B", os.fsencode(data / "Trash"))
    monkeypatch.setattr(plat_other, "HOMETRASH", str(data / "Trash"))
    return data / "Trash" / "files"


def similar_plugin():
    return next(p for p in plugins.find_plugins() if p.name == "similar")


class ReviewHelper(SimilarHelper):
    # The first library's vectors (by photo hash) and calibration rows: the
    # same files give the same ones, so later libraries take them over
    # instead of running the network and the calibration again.
    made: ClassVar[dict] = {}
    hashes: ClassVar[dict] = {}  # the first library's photo ids -> hashes

    def library(self, scenes_dir) -> Path:
        root = copy_tree(scenes_dir[0], self.photos_dir())
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "threshold": THRESHOLD})
        self.run_command("similar-import", str(root))
        with self.lib.transaction() as tx:
            ids = dict(tx.query("SELECT hash, id FROM similar_photos"))
            if not self.made:
                self.run_command("similar-featurize")
                self.run_command("similar-calibrate")
                for table in ("similar_features", "similar_calibrations"):
                    names = [r[1] for r in tx.query(f"PRAGMA table_info({table})")]
                    self.made[table] = (names, tx.query(f"SELECT * FROM {table}"))
                self.hashes.update({i: h for h, i in ids.items()})
                return root
            for table, (names, rows) in self.made.items():
                if table == "similar_features":  # the same files under this library's ids
                    at = names.index("photo_id")
                    rows = [(*r[:at], ids[self.hashes[r[at]]], *r[at + 1:]) for r in rows]
                tx.mutate_many(f"INSERT INTO {table} ({', '.join(names)}) VALUES "
                               f"({', '.join('?' * len(names))})", [tuple(r) for r in rows])
        return root

    def reopen(self):
        """A review of the library, served to ``self.client``."""
        self.review = self.fresh()
        self.client = create_app(self.review, TOKEN).test_client()
        return self.review

    def fresh(self):
        """A new review, as the next `similar-review` opens it."""
        return open_review(similar_plugin(), self.lib, [])

    def get(self, url: str, **kw):
        return self.client.get(url, headers={"X-Review-Token": TOKEN}, **kw)

    def post(self, url: str, json=None):
        return self.client.post(url, headers={"X-Review-Token": TOKEN}, json=json or {})

    def act(self, index: int, what: str, **body):
        """POST ``what`` (apply, keep-all, skip) on the group as a page
        showing it now would: with the group's version."""
        version = self.get(f"/api/groups/{index}").get_json()["version"]
        return self.post(f"/api/groups/{index}/{what}", {**body, "version": version})

    def bulk(self, kind: str, action: str = "trash", reason: str = ""):
        """The dialog's count of ``kind``, then its Enter: (count, answer)."""
        count = self.get(f"/api/bulk?reason={reason}").get_json()["kinds"][kind]
        done = self.post("/api/bulk", {"kind": kind, "reason": reason, "action": action,
                                       "expect": {k: count[k] for k in ("groups", "photos")}})
        return count, done

    def paths(self, group: dict) -> dict[int, str]:
        return {p["id"]: os.path.join(p["folder"], p["name"]) for p in group["photos"]}


class TestReviewApi(ReviewHelper):
    def test_token_listing_group_and_unknown_ids(self, scenes_dir):
        self.library(scenes_dir)
        review = self.reopen()
        assert len(review.groups) >= 4
        # Without the token, or with another, nothing is answered or done.
        for url in ("/", "/api/state", "/api/groups/0", "/img/1/thumb"):
            assert self.client.get(url).status_code == 403
            assert self.client.get(url, headers={"X-Review-Token": "wrong"}).status_code == 403
        for url in ("/api/undo", "/api/groups/0/apply", "/api/groups/0/keep-all",
                    "/api/groups/0/skip", "/api/position", "/api/bulk"):
            refused = self.client.post(url, json={"keep": [1], "index": 0})
            assert refused.status_code == 403 and "browser" in refused.get_json()["error"]
        assert decisions.states(self.lib) == {}

        listing = self.get("/api/groups?offset=1&limit=2").get_json()
        assert listing["total"] == len(review.groups) and len(listing["groups"]) == 2
        first = listing["groups"][0]
        assert first["index"] == 1 and first["count"] == len(review.groups[1].ids)
        assert first["cover"] == review.groups[1].ids[0] and first["state"] == "open"

        group = self.get("/api/groups/0").get_json()
        ids = [p["id"] for p in group["photos"]]
        assert group["kind"] in ("exact", "copy", "burst", "similar")
        assert group["keep"] in ids and group["reason"]
        assert all(os.path.exists(p) for p in self.paths(group).values())
        for row in group["differences"]:  # only fields that differ
            assert len(set(row["shown"])) > 1 and len(row["shown"]) == len(ids)
        assert {r["field"] for r in group["differences"]} & {"size", "pixels", "quality"}

        thumb = self.get(f"/img/{ids[0]}/thumb")
        assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
        assert max(Image.open(io.BytesIO(thumb.data)).size) <= 320

        for url in ("/api/groups/999", f"/img/{max(ids) + 1000}/thumb", "/img/1/huge",
                    "/nothing"):
            missing = self.get(url)
            assert missing.status_code == 404, url
            assert missing.is_json and missing.get_json()["error"]
        assert self.post("/api/groups/999/skip", {"version": ""}).status_code == 404

    def test_apply_trash_undo_and_resume(self, scenes_dir, trash_home):
        self.library(scenes_dir)
        review = self.reopen()
        group = self.get("/api/groups/1").get_json()
        paths = self.paths(group)
        keep = group["keep"]
        applied = self.act(1, "apply", keep=[keep], action="trash")
        assert applied.status_code == 200, applied.get_json()
        assert applied.get_json()["done"] == len(paths) - 1
        assert applied.get_json()["state"] == "resolved"
        gone = [p for i, p in paths.items() if i != keep]
        assert os.path.exists(paths[keep]) and not any(map(os.path.exists, gone))
        assert sorted(os.listdir(trash_home)) == sorted(os.path.basename(p) for p in gone)
        state = self.get("/api/state").get_json()
        assert state["resolved"] == 1 and state["freed_files"] == len(gone)
        assert state["freed_bytes"] == sum(os.path.getsize(trash_home / os.path.basename(p))
                                           for p in gone)
        key = review.groups[1].key
        assert decisions.states(self.lib)[key][0] == "resolved"

        undone = self.post("/api/undo").get_json()
        assert undone["undone"] == "trash" and undone["index"] == 1
        assert all(map(os.path.exists, paths.values())) and not os.listdir(trash_home)
        assert key not in decisions.states(self.lib)
        assert self.get("/api/state").get_json()["freed_files"] == 0
        assert self.post("/api/undo").status_code == 409  # nothing left to undo

        # Resolved groups do not come back; the next review starts where this one was.
        assert self.act(1, "apply", keep=[keep]).status_code == 200
        assert self.post("/api/position", {"index": 3}).status_code == 200
        at = review.groups[3].key
        again = self.fresh()
        assert key not in {g.key for g in again.groups}
        assert len(again.groups) == len(review.groups) - 1
        assert again.groups[again.start].key == at

    def test_a_changed_file_stays_with_its_reason(self, scenes_dir, trash_home):
        self.library(scenes_dir)
        self.reopen()
        group = self.get("/api/groups/0").get_json()
        paths = self.paths(group)
        keep = group["keep"]
        changed = next(i for i in paths if i != keep)
        with open(paths[changed], "ab") as f:
            f.write(b"edited since the import")
        applied = self.act(0, "apply", keep=[keep]).get_json()
        assert str(changed) in applied["refused"] and applied["state"] == "open"
        assert "changed" in applied["refused"][str(changed)]
        assert os.path.exists(paths[changed])
        again = self.get("/api/groups/0").get_json()
        note = next(p["note"] for p in again["photos"] if p["id"] == changed)
        assert "changed" in note
        # Not resolved: what is left of the group comes back next time.
        left = decisions.group_key([keep, changed])
        assert left in {g.key for g in self.fresh().groups} and left != group["key"]

    def test_keep_all_skip_and_move(self, scenes_dir, trash_home):
        root = self.library(scenes_dir)
        review = self.reopen()
        key0, key1 = review.groups[0].key, review.groups[1].key
        assert self.act(0, "keep-all").get_json()["state"] == "kept_all"
        assert self.act(1, "skip").get_json()["state"] == "skipped"
        group = self.get("/api/groups/2").get_json()
        paths = self.paths(group)
        moved = self.act(2, "apply", keep=[group["keep"]], action="move")
        assert moved.status_code == 200, moved.get_json()
        in_folder = sorted(os.listdir(root / "duplicates"))
        assert in_folder == sorted(os.path.basename(p) for i, p in paths.items()
                                   if i != group["keep"])
        states = decisions.states(self.lib)
        assert states[key0][0] == "kept_all" and states[key1][0] == "skipped"
        keys = {g.key for g in self.fresh().groups}
        assert key0 not in keys and key1 in keys  # a skipped group comes back
        assert review.groups[2].key not in keys

        # Undo, last first: the move (files back), the skip, the keep-all.
        assert self.post("/api/undo").get_json()["undone"] == "move"
        assert not os.listdir(root / "duplicates") and all(map(os.path.exists, paths.values()))
        assert self.post("/api/undo").get_json()["undone"] == "skip"
        assert self.post("/api/undo").get_json()["undone"] == "keep_all"
        assert decisions.states(self.lib) == {}
        assert {g.key for g in self.fresh().groups} >= {key0, key1}

    def test_bulk_counts_then_applies_as_one_undoable_run(self, scenes_dir, trash_home):
        self.library(scenes_dir)
        review = self.reopen()
        kind = review.groups[0].kind
        of_kind = [g for g in review.groups if g.kind == kind]
        before = sorted(os.listdir(self.temp_path / "photos"))
        count, done = self.bulk(kind)
        assert count["groups"] == len(of_kind)
        assert count["photos"] == sum(len(g.ids) - 1 for g in of_kind)
        assert count["files"] == count["photos"] and count["bytes"] > 0
        done = done.get_json()
        assert done["done"] == count["photos"] and done["refused"] == 0
        assert len(os.listdir(trash_home)) == count["photos"]
        assert {g.key for g in self.fresh().groups}.isdisjoint(g.key for g in of_kind)
        assert self.post("/api/undo").get_json()["undone"] == "trash"
        assert sorted(os.listdir(self.temp_path / "photos")) == before

    def test_bulk_count_says_which_sidecars_stay_with_the_kept_photos(self, scenes_dir,
                                                                      trash_home):
        root = self.library(scenes_dir)
        self.config["similar"]["keep"] = ["largest"]  # a sidecar must not change the keeper
        review = self.reopen()
        kind = review.groups[0].kind
        of_kind = [i for i, g in enumerate(review.groups) if g.kind == kind]
        keepers, extras = set(), []
        for i in of_kind:
            group = self.get(f"/api/groups/{i}").get_json()
            keepers.add(group["keep"])
            extras += [p["id"] for p in group["photos"] if p["id"] != group["keep"]]
        paths = {p.id: Path(os.fsdecode(p.path)) for p in photos(self.lib)}
        for e in extras:  # an XMP beside every extra; the keepers have none
            paths[e].with_suffix(".xmp").write_text("<x:xmpmeta/>")
        self.run_command("similar-import", str(root))
        self.reopen()
        assert {self.get(f"/api/groups/{i}").get_json()["keep"] for i in of_kind} == keepers
        count, done = self.bulk(kind)
        assert count["photos"] == len(extras) and count["files"] == 2 * len(extras)
        # each keeper takes over the sidecar of one extra: it stays
        assert count["kept_sidecars"] == len(keepers)
        assert count["trash_files"] == 2 * len(extras) - len(keepers)
        done = done.get_json()
        assert done["done"] == len(extras)
        assert len(os.listdir(trash_home)) == count["trash_files"]
        assert all(paths[k].with_suffix(".xmp").exists() for k in keepers)


def test_differences_show_only_what_differs_and_mark_the_better():
    photos = [{"size": (100, "100 bytes"), "date": (50.0, "then"), "camera": (None, "A"),
               "folder": (None, "/x")},
              {"size": (300, "300 bytes"), "date": (None, "unknown"), "camera": (None, "A"),
               "folder": (None, "/y")}]
    photos[0]["sharpness"], photos[1]["sharpness"] = (0.181, "0.18"), (0.184, "0.18")
    photos[0]["exposure"], photos[1]["exposure"] = (0.5, "0.50"), (0.6, "0.60")
    rows = {r["field"]: r for r in differences(photos)}
    assert set(rows) == {"size", "date", "folder", "exposure"}  # same camera, sharpness
    assert rows["exposure"]["best"] == [1] and rows["exposure"]["shown"] == ["0.50", "0.60"]
    assert rows["size"]["best"] == [1]
    assert rows["date"]["best"] == []  # one date unknown: nothing to compare
    assert rows["folder"]["best"] == []  # no better folder


def test_previews_are_upright_and_cached(tmp_path):
    path = str(tmp_path / "turned.jpg")
    img = samples.scene(3, (400, 300))
    img.save(path, "JPEG", exif=samples.exif_for(3, orientation=6))
    previews = Previews(budget=1 << 20)
    thumb = previews.get(1, path, "h", "thumb")
    assert Image.open(io.BytesIO(thumb)).size == (240, 320)  # turned upright
    os.remove(path)
    assert previews.get(1, path, "h", "thumb") == thumb  # from the cache


def test_a_raw_preview_is_upright(tmp_path):
    path = samples.save_dng(samples.scene(4, (200, 150)), str(tmp_path / "turned.dng"), 4,
                            orientation=6)
    large = Previews().get(7, path, "h", "large")
    width, height = Image.open(io.BytesIO(large)).size
    assert height > width  # a landscape mosaic, shown turned as the camera said


class TestPhotosInBeetsDirectory(ReviewHelper):
    """Photos under beets' ``directory:``: the review's request threads and
    the decoding threads find them (beets keeps the directory per thread;
    the rows of an older version are relative to it)."""

    def test_review_server_and_calibration_threads_find_them(self, trash_home):
        root = Path(os.fsdecode(self.lib.directory)) / "shoot"
        root.mkdir(parents=True)
        samples.make_groups(str(root), groups=6, per_group=2, size=(160, 120))
        (root / "copy.jpg").write_bytes(next(root.glob("*.jpg")).read_bytes())
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "threshold": THRESHOLD})
        self.run_command("similar-import", str(root))
        with self.lib.transaction() as tx:
            stored = [os.fsdecode(p) for (p,) in tx.query("SELECT path FROM similar_photos")]
        assert stored and all(os.path.isabs(p) for p in stored)  # absolute (library/paths.py)

        # Calibration decodes in worker threads: every photo is read.
        self.run_command("similar-calibrate")
        with self.lib.transaction() as tx:
            assert tx.query("SELECT sample FROM similar_calibrations")[0][0] == 13

        # The real server: each request on a thread of its own.
        import json
        import urllib.request

        from beetsplug.similar.review.server import Server

        review = open_review(similar_plugin(), self.lib, [], "exact")
        server = Server(create_app(review, TOKEN)).start()
        try:
            base = f"http://127.0.0.1:{server.port}"
            with urllib.request.urlopen(urllib.request.Request(
                    f"{base}/api/groups/0", headers={"X-Review-Token": TOKEN})) as r:
                group = json.load(r)
            # the previews are read from the files, wherever beets keeps them
            with urllib.request.urlopen(urllib.request.Request(
                    f"{base}/img/{group['keep']}/thumb",
                    headers={"X-Review-Token": TOKEN})) as r:
                assert r.headers["Content-Type"] == "image/jpeg"
                assert r.read(3) == b"\xff\xd8\xff"
            request = urllib.request.Request(
                f"{base}/api/groups/0/apply", method="POST",
                data=json.dumps({"keep": [group["keep"]], "action": "trash",
                                 "version": group["version"]}).encode(),
                headers={"X-Review-Token": TOKEN, "Content-Type": "application/json"})
            with urllib.request.urlopen(request) as r:
                applied = json.load(r)
        finally:
            server.stop()
        assert applied["done"] == 1 and not applied["refused"], applied
        assert len(os.listdir(trash_home)) == 1

    def test_a_row_whose_file_is_gone_is_not_suggested(self):
        shoot = self.photos_dir()
        samples.make_groups(str(shoot), groups=1, per_group=1, size=(160, 120))
        [original] = shoot.glob("*.jpg")
        copy = shoot / "copy.jpg"
        copy.write_bytes(original.read_bytes())
        os.utime(original, (1e9, 1e9))  # older: kept while it is there
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "threshold": THRESHOLD, "keep": ["oldest"]})
        self.run_command("similar-import", str(shoot))
        ids = {p.filepath.name: p.id for p in photos(self.lib)}
        original.unlink()
        review = open_review(similar_plugin(), self.lib, [], "exact")
        assert review.details(0)["keep"] == ids["copy.jpg"]
        count = review.bulk_count(None)["kinds"]["exact"]
        assert count["photos"] == 1 and count["bytes"] == 0  # the gone row is the extra

    def test_bulk_respects_a_reference_folder_under_beets_directory(self, trash_home):
        top = Path(os.fsdecode(self.lib.directory))
        shoot, reference = top / "shoot", top / "reference"
        shoot.mkdir(parents=True)
        reference.mkdir()
        samples.make_groups(str(shoot), groups=2, per_group=1, size=(160, 120))
        for photo in shoot.glob("*.jpg"):
            (reference / photo.name).write_bytes(photo.read_bytes())
            os.utime(photo, (1e9, 1e9))  # older: kept, but for the reference folder
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "threshold": THRESHOLD,
                                    "keep": ["oldest", f"path:{reference}"]})
        self.run_command("similar-import", str(top))
        review = open_review(similar_plugin(), self.lib, [], "exact")
        count = review.bulk_count(None)["kinds"]["exact"]
        assert count["photos"] == 2 and count["bytes"] > 0
        done = review.bulk("exact", None, "trash", count)
        assert done["done"] == 2 and not done["refused"]
        assert len(list(reference.glob("*.jpg"))) == 2 and not list(shoot.glob("*.jpg"))


class TestBulkCount(SimilarHelper):
    @pytest.mark.parametrize("sidecars", ["extras", "all", "keepers", "extras, two kinds"])
    def test_the_count_is_what_goes_to_the_trash(self, trash_home, sidecars):
        """Each photo has two exact copies; sidecars beside some of them.
        A kept photo without a sidecar takes one over: the dialog's count of
        files to the trash is the number of files the trash receives."""
        shoot = self.photos_dir()
        samples.make_groups(str(shoot), groups=3, per_group=1, size=(160, 120))
        for photo in sorted(shoot.glob("photo_*.jpg")):
            for n in (1, 2):
                (shoot / f"{photo.stem} copy {n}.jpg").write_bytes(photo.read_bytes())
        for photo in sorted(shoot.glob("*.jpg")):
            extra = " copy " in photo.name  # the copies' names lose to the original's
            if sidecars == "all" or (extra and sidecars.startswith("extras")) or \
                    (not extra and sidecars == "keepers"):
                photo.with_suffix(".xmp").write_text("<x:xmpmeta/>")
                if sidecars.endswith("two kinds"):
                    photo.with_suffix(".pp3").write_text("[Version]")
        # (the same size: the original's name wins; a sidecar does not change the keeper)
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "depth": 1, "keep": ["largest"]})
        self.run_command("similar-import", str(shoot))
        review = open_review(similar_plugin(), self.lib, [], "exact")
        count = review.bulk_count(None)["kinds"]["exact"]
        done = review.bulk("exact", None, "trash", count)
        assert done["done"] == count["photos"] == 6
        assert len(os.listdir(trash_home)) == count["trash_files"]
        assert count["files"] - count["trash_files"] == count["kept_sidecars"]
        # the kept photos had none: each took over one extra's
        assert count["kept_sidecars"] == (3 * (1 + sidecars.endswith("two kinds"))
                                          if sidecars.startswith("extras") else 0)
