"""The review's decisions follow the facts: `similar-undo` of a run opens
again the groups it resolved, a page that shows a group as it was cannot
decide it, an action that did nothing is not the one `u` undoes, and each
photo says how it matches the keeper."""

from __future__ import annotations

import os
import re
import time

from beetsplug.similar import samples
from beetsplug.similar.commands.review import open_review
from beetsplug.similar.library import decisions
from beetsplug.similar.library.photos import photos
from beetsplug.similar.numbers import plain
from beetsplug.similar.review.server import create_app

from .conftest import SimilarHelper
from .test_review_api import TOKEN, ReviewHelper, similar_plugin, trash_home  # noqa: F401


class TestDecisionsFollowTheFacts(ReviewHelper):
    def test_similar_undo_opens_again_the_groups_its_run_resolved(self, scenes_dir,
                                                                  trash_home, capsys):
        self.library(scenes_dir)
        review = self.reopen()
        group = self.get("/api/groups/1").get_json()
        assert self.act(1, "apply", keep=[group["keep"]]).get_json()["state"] == "resolved"
        key = review.groups[1].key
        assert decisions.states(self.lib)[key][0] == "resolved"

        out = self.run_output(capsys, "similar-undo")
        assert "1 group resolved by this run in `beet similar-review` is open again" in out
        assert all(map(os.path.exists, self.paths(group).values()))
        assert key not in decisions.states(self.lib)
        assert key in {g.key for g in self.fresh().groups}  # the next review shows it
        # and so does the review still open, without a restart
        assert self.get("/api/groups/1").get_json()["state"] == "open"
        state = self.get("/api/state").get_json()
        # its files are out of the trash: the page's counts say so too
        assert (state["resolved"], state["freed_files"], state["freed_bytes"]) == (0, 0, 0)
        # u in the page then finds the files back already, and says so.
        undone = self.post("/api/undo").get_json()
        assert undone == {"undone": "trash", "index": 1, "errors": [], "already": True}
        assert all(map(os.path.exists, self.paths(group).values()))

        # A bulk run: every group it resolved is open again after its undo.
        kind = review.groups[0].kind
        of_kind = {g.key for g in review.groups if g.kind == kind}
        count, done = self.bulk(kind)
        assert done.status_code == 200 and done.get_json()["done"] == count["photos"]
        assert of_kind.isdisjoint(g.key for g in self.fresh().groups)
        out = self.run_output(capsys, "similar-undo")
        assert f"{len(of_kind)} groups resolved by this run in `beet similar-review` are " \
               "open again" in out
        assert of_kind <= {g.key for g in self.fresh().groups}

    def test_a_page_not_reloaded_cannot_decide_a_group_changed_since(self, scenes_dir,
                                                                     trash_home):
        self.library(scenes_dir)
        review = self.reopen()
        other_tab = self.get("/api/groups/1").get_json()  # a tab shows group 2
        assert self.act(1, "apply", keep=[other_tab["keep"]]).status_code == 200  # this one
        trashed = [i for i in review.groups[1].ids if i != other_tab["keep"]]
        for what, body in (("keep-all", {}), ("skip", {}),
                           ("apply", {"keep": [other_tab["keep"]]})):
            stale = self.post(f"/api/groups/1/{what}", {**body, "version": other_tab["version"]})
            assert stale.status_code == 409, what
            assert stale.get_json()["error"] == (
                "group 2 changed since this page showed it (it is resolved now); it is shown "
                "as it is now")
        assert decisions.not_duplicates(self.lib) == set()
        assert decisions.states(self.lib)[review.groups[1].key][0] == "resolved"
        # The trashed photos come back: the group is as it was, and shown again.
        assert self.post("/api/undo").get_json()["undone"] == "trash"
        assert review.groups[1].key in {g.key for g in self.fresh().groups}
        assert self.get("/api/groups/1").get_json()["version"] == other_tab["version"]
        assert all(len(set(pair) & set(trashed)) == 0
                   for pair in decisions.not_duplicates(self.lib))

    def test_keep_all_keeps_apart_only_the_photos_still_there(self, scenes_dir, trash_home):
        self.library(scenes_dir)
        self.reopen()
        group = self.get("/api/groups/0").get_json()
        paths = self.paths(group)
        keep = group["keep"]
        changed, gone = [i for i in paths if i != keep][:2]
        with open(paths[changed], "ab") as f:
            f.write(b"edited since the import")  # stays; the other goes
        applied = self.act(0, "apply", keep=[keep]).get_json()
        assert applied["done"] == 1 and applied["state"] == "open"
        assert self.act(0, "keep-all").status_code == 200
        assert decisions.not_duplicates(self.lib) == {tuple(sorted((keep, changed)))}

    def test_an_action_where_every_photo_stayed_is_not_the_one_u_undoes(self, scenes_dir,
                                                                        trash_home):
        self.library(scenes_dir)
        self.reopen()
        first = self.get("/api/groups/0").get_json()
        assert self.act(0, "apply", keep=[first["keep"]]).get_json()["done"] == 2
        second = self.get("/api/groups/2").get_json()
        paths = self.paths(second)
        extras = [i for i in paths if i != second["keep"]]
        for i in extras:
            with open(paths[i], "ab") as f:
                f.write(b"edited since the import")
        refused = self.act(2, "apply", keep=[second["keep"]]).get_json()
        assert refused["done"] == 0 and refused["state"] == "open"
        assert sorted(s["name"] for s in refused["stayed"]) == sorted(
            os.path.basename(paths[i]) for i in extras)  # named by their files
        assert all("changed since it was imported" in s["why"] for s in refused["stayed"])
        assert self.get("/api/state").get_json()["undo"] == "trash"
        undone = self.post("/api/undo").get_json()
        assert undone["undone"] == "trash" and undone["index"] == 0  # the real action
        assert all(map(os.path.exists, self.paths(first).values()))
        assert self.post("/api/undo").get_json()["error"] == "nothing to undo in this review"

    def test_bulk_names_what_stayed_and_refuses_a_stale_count(self, scenes_dir, trash_home):
        self.library(scenes_dir)
        review = self.reopen()
        kind = review.groups[0].kind
        count = self.get("/api/bulk").get_json()["kinds"][kind]
        index = next(g.index for g in review.groups if g.kind == kind)
        assert self.act(index, "skip").status_code == 200  # skipped: still open
        group = self.get(f"/api/groups/{index}").get_json()
        assert self.act(index, "apply", keep=[group["keep"]]).status_code == 200
        before = sorted(os.listdir(self.temp_path / "photos"))
        stale = self.post("/api/bulk", {"kind": kind, "action": "trash",
                                        "expect": {k: count[k] for k in ("groups", "photos")}})
        assert stale.status_code == 409
        assert stale.get_json()["error"] == (
            f"the {kind} groups changed since the count (now {count['groups'] - 1} groups, "
            f"{count['photos'] - len(group['photos']) + 1} photos); nothing was done: "
            "count again")
        assert sorted(os.listdir(self.temp_path / "photos")) == before
        # One extra changed on disk: it stays, named by its file.
        nxt = next(g for g in review.groups if g.kind == kind and g.index != index)
        shown = self.get(f"/api/groups/{nxt.index}").get_json()
        name, path = next((os.path.basename(p), p) for i, p in self.paths(shown).items()
                          if i != shown["keep"])
        with open(path, "ab") as f:
            f.write(b"edited since the import")
        count, done = self.bulk(kind)
        done = done.get_json()
        assert done["refused"] == 1 and done["done"] == count["photos"] - 1
        assert [s["name"] for s in done["stayed"]] == [name]


class TestEvidence(ReviewHelper):
    def test_each_photo_says_how_it_matches_the_keeper_and_when_where_it_was_taken(
            self, scenes_dir, capsys):
        self.library(scenes_dir)
        review = self.reopen()
        # What similar-dupes prints of the same groups: id, distance, inliers.
        out = self.run_output(capsys, "similar-dupes", "-f", "$id $distance $inliers")
        printed = {int(m[1]): (m[2], m[3]) for m in
                   re.finditer(r"^  [* =] (\d+) ([\d.]*) ?(\d*)$", out, re.M)}
        near = [i for i, g in enumerate(review.groups) if g.kind != "exact"]
        assert near
        library = {p.id: p for p in photos(self.lib)}
        words, checked = set(), 0
        for i in near:
            group = self.get(f"/api/groups/{i}").get_json()
            for photo in group["photos"]:
                known = library[photo["id"]]
                assert photo["folder"] == str(self.temp_path / "photos")
                assert photo["camera"] == known.camera and known.camera  # from the EXIF
                assert photo["taken"] == time.strftime("%Y-%m-%d %H:%M:%S",
                                                       time.localtime(known.taken))
                if photo["id"] == group["keep"]:
                    assert photo["match"] == "" and photo["evidence"] == ""
                    continue
                distance, inliers = printed[photo["id"]]
                words.add(re.sub(r"\d+", "N", photo["match"]))
                checked += bool(inliers)
                assert photo["evidence"].startswith(
                    f"distance {plain(float(distance))} to the suggested keeper")
                assert (f"; second check: {inliers} matching points (inliers) of "
                        in photo["evidence"]) == bool(inliers)
                if photo["match"].startswith("the same scene: "):
                    assert photo["match"] == f"the same scene: {inliers} points match"
        # the second check's figures among them (its local features see these
        # generated scenes' links, docs/precision.md)
        assert checked and "the same scene: N points match" in words
        assert words <= {"identical file", "the same picture: re-saved, resized or lightly edited",
                         "the same scene: N points match",
                         "alike as a whole (light, focus or size differ)", "close match",
                         "in the group through its other photos"}, words

    def test_a_run_live_in_another_process_is_named_and_nothing_moves(self, scenes_dir,
                                                                      trash_home):
        from .test_live_runs import hold_as_another_process

        self.library(scenes_dir)
        self.reopen()
        group = self.get("/api/groups/0").get_json()
        before = sorted(os.listdir(self.temp_path / "photos"))
        fd = hold_as_another_process(self.lib, 4242, 7)
        try:
            for action in ("trash", "move"):
                refused = self.act(0, "apply", keep=[group["keep"]], action=action)
                assert refused.status_code == 409, action
                assert refused.get_json()["error"] == \
                    "run 7 is in progress (pid 4242); wait for it to end"
        finally:
            os.close(fd)
        assert sorted(os.listdir(self.temp_path / "photos")) == before
        assert self.get("/api/state").get_json()["undo"] is None
        assert self.act(0, "apply", keep=[group["keep"]], action="move").status_code == 200

    def test_a_run_cut_off_is_named_and_nothing_moves(self, scenes_dir, trash_home, capsys):
        """The attack's case: `similar-order` killed, then the page's Enter.
        As `similar-dupes --trash` and `--move` do, the page refuses both
        (the library's paths may lag behind the files), in one line that
        says what finishes the run."""
        from .test_undo_resume import cut_off

        self.library(scenes_dir)
        self.reopen()
        group = self.get("/api/groups/0").get_json()
        run_id = cut_off(self.lib)
        before = sorted(os.listdir(self.temp_path / "photos"))
        said = (f"rename run {run_id} was interrupted; run `beet similar-order --resume` to "
                "finish it or `beet similar-undo` to roll it back first")
        for action in ("trash", "move"):
            refused = self.act(0, "apply", keep=[group["keep"]], action=action)
            assert (refused.status_code, refused.get_json()) == (409, {"error": said}), action
        count, done = self.bulk(self.review.groups[0].kind)
        assert (done.status_code, done.get_json()) == (409, {"error": said})
        assert sorted(os.listdir(self.temp_path / "photos")) == before
        assert not os.path.exists(trash_home) or not os.listdir(trash_home)
        assert self.get("/api/state").get_json()["undo"] is None
        self.run_output(capsys, "similar-order", "--resume")
        assert self.act(0, "apply", keep=[group["keep"]]).get_json()["state"] == "resolved"


class TestPageUndoComesAfterLaterRuns(SimilarHelper):
    def test_u_refuses_while_a_later_run_is_not_undone(self, trash_home, capsys):
        """The attack's case: Enter in the page (the kept photo takes over
        the extra's sidecar), `similar-order` in a terminal (it renames the
        kept photo and that sidecar), then u in the page. u went first and
        left the extra's sidecar with the kept photo ("the sidecar taken
        over is gone or was replaced"); now it says which run to undo
        first, and once that is undone it puts everything back."""
        root = self.photos_dir()
        samples.save_photo(samples.scene(3, (96, 64)), str(root / "a.jpg"), 3)
        (root / "b.jpg").write_bytes((root / "a.jpg").read_bytes())
        os.utime(root / "a.jpg", (1e9, 1e9))
        (root / "b.xmp").write_text("edits of b")
        files = {p.name: p.read_bytes() for p in root.iterdir()}
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "keep": ["oldest"]})
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        client = create_app(open_review(similar_plugin(), self.lib, [], "exact"),
                            TOKEN).test_client()
        headers = {"X-Review-Token": TOKEN}
        group = client.get("/api/groups/0", headers=headers).get_json()
        client.post("/api/groups/0/apply", headers=headers,
                    json={"keep": [group["keep"]], "version": group["version"]})
        assert sorted(os.listdir(root)) == ["a.jpg", "a.xmp"]
        self.run_output(capsys, "similar-order")  # run 2
        renamed = sorted(os.listdir(root))
        refused = client.post("/api/undo", headers=headers)
        assert (refused.status_code, refused.get_json()) == (409, {"error": (
            "run 2 came after this action and is not undone: `beet similar-undo` undoes "
            "it first (runs go back newest first)")})
        assert sorted(os.listdir(root)) == renamed
        self.run_output(capsys, "similar-undo")
        undone = client.post("/api/undo", headers=headers).get_json()
        assert undone["undone"] == "trash" and undone["errors"] == []
        assert {p.name: p.read_bytes() for p in root.iterdir()} == files
