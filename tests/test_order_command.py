"""`beet similar-order`: ranks, renames, templates, dry run, crash safety."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
from beets.exceptions import UserError

from beetsplug.similar import samples
from beetsplug.similar.library.photos import photos

from .conftest import SimilarHelper, copy_tree, featurized_library, run_beet


def tree_state(root):
    """{relative path: sha256} of every file, hidden ones included."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            full = os.path.join(folder, name)
            out[os.path.relpath(full, root)] = hashlib.sha256(open(full, "rb").read()).hexdigest()
    return out


def group_of(scenes_dir):
    _, groups = scenes_dir
    return {os.path.basename(p): g for g, paths in groups.items() for p in paths}


class TestOrder(SimilarHelper):
    def prepare(self, scenes_dir):
        root = copy_tree(scenes_dir[0], self.photos_dir())
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small"})
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        return root

    def ranked_names(self, query=()):
        return [(p.rank, p.origname, os.path.basename(p.filepath))
                for p in photos(self.lib, list(query) + ["rank+"])]

    def test_groups_end_up_together_and_files_follow(self, scenes_dir, capsys):
        root = self.prepare(scenes_dir)
        out = self.run_output(capsys, "similar-order")
        assert "ordered 36 photos (exact, euclidean)" in out and "chain length" in out
        ranked = self.ranked_names()
        assert [r for r, _, _ in ranked] == list(range(1, 37))
        group = group_of(scenes_dir)
        labels = [group[orig] for _, orig, _ in ranked]
        runs = 1 + sum(a != b for a, b in zip(labels, labels[1:]))
        assert runs <= 12 + 3  # every group contiguous or nearly so
        whole = sum(
            max(i for i, lab in enumerate(labels) if lab == g)
            - min(i for i, lab in enumerate(labels) if lab == g) == 2
            for g in range(12))
        assert whole >= 10
        # Files carry the rank prefix; the library's paths follow them.
        for rank, orig, name in ranked:
            assert name == f"{rank:04d}-{orig}"
        assert sorted(os.listdir(root)) == sorted(n for _, _, n in ranked)
        for photo in photos(self.lib):
            assert os.path.exists(photo.filepath)

    def test_dry_run_changes_nothing(self, scenes_dir, capsys):
        root = self.prepare(scenes_dir)
        before = tree_state(root)
        out = self.run_output(capsys, "similar-order", "--dry-run")
        assert "dry run: 36 photos would be renamed; nothing changed" in out
        assert "-> 0001-" in out
        assert tree_state(root) == before
        assert {p.rank for p in photos(self.lib)} == {0}
        with self.lib.transaction() as tx:
            assert tx.query("SELECT COUNT(*) FROM similar_runs")[0][0] == 0

    def test_rerun_replaces_prefix_and_clear_strips_it(self, scenes_dir):
        root = self.prepare(scenes_dir)
        self.run_command("similar-order")
        self.run_command("similar-order", "--metric", "cosine")
        names = os.listdir(root)
        assert all(len(n.split("-")) == 2 for n in names)  # no stacked prefixes
        self.run_command("similar-order", "--clear")
        assert sorted(os.listdir(root)) == sorted(os.listdir(scenes_dir[0]))
        assert {p.rank for p in photos(self.lib)} == {0}

    def test_template_functions_fields_and_replace(self, scenes_dir):
        root = self.prepare(scenes_dir)
        self.config["similar"]["rename_format"] = "%if{$rank,$rankpad}_${year}_%upper{$origstem}:x"
        self.config["replace"] = {":": "="}
        self.lib.replacements = self.lib.get_replacements()
        self.run_command("similar-order")
        names = sorted(os.listdir(root))
        assert names[0].startswith("0001_2019_PHOTO_") and names[0].endswith("=x.jpg")

    def test_query_subset_only(self, scenes_dir):
        root = self.prepare(scenes_dir)
        self.run_command("similar-order", "origname::^photo_000")
        ranked = [p for p in photos(self.lib) if p.rank]
        assert sorted(p.rank for p in ranked) == list(range(1, 11))
        assert all(p.origname.startswith("photo_000") for p in ranked)
        untouched = [n for n in os.listdir(root) if not n[0].isdigit() or n.startswith("photo")]
        assert len([n for n in os.listdir(root) if n.startswith("photo_")]) == 26
        assert len(untouched) >= 26

    def test_exact_copies_adjacent_and_export(self, scenes_dir, tmp_path, capsys):
        root = copy_tree(scenes_dir[0], self.photos_dir())
        for i in (3, 17):
            src = root / f"photo_{i:04d}.jpg"
            (root / f"copy_of_{i}.jpg").write_bytes(src.read_bytes())
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "depth": 1})
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        csv = tmp_path / "features.csv"
        self.run_command("similar-order", "--no-rename", "--export", str(csv))
        by_name = {p.origname: p.rank for p in photos(self.lib)}
        for i in (3, 17):
            assert abs(by_name[f"copy_of_{i}.jpg"] - by_name[f"photo_{i:04d}.jpg"]) == 1
        frame = pd.read_csv(csv)
        assert list(frame.columns[:2]) == ["images", "0"] and frame.columns[-1] == "R"
        assert frame.shape == (38, 1 + 576 + 1)
        assert list(frame["R"]) == list(range(1, 39))
        assert os.path.basename(frame["images"][0]) in by_name
        assert by_name[os.path.basename(frame["images"][0])] == 1

    def test_fast_and_unfeaturized_photos(self, scenes_dir, capsys, caplog):
        root = self.prepare(scenes_dir)
        samples.save_photo(samples.scene(77), str(root / "late.jpg"), seed=3)
        self.run_command("similar-import", str(root))
        out = self.run_output(capsys, "similar-order", "--fast", "--no-rename")
        assert "ordered 36 photos (fast" in out
        assert any("1 photo matched has no vectors of" in r.getMessage()
                   for r in caplog.records)
        with pytest.raises(UserError, match="^the photo matched has no vectors of "
                                            "mobilenet_v3_small/"):
            self.run_command("similar-order", "origname:late.jpg")

    def test_outside_file_with_target_name_is_kept(self, scenes_dir):
        root = self.prepare(scenes_dir)
        self.run_command("similar-order", "--no-rename")
        first = photos(self.lib, ["rank:1"]).get()
        squatter = root / f"0001-{first.origname}"
        squatter.write_text("not a photo of ours")
        self.run_command("similar-order")
        assert squatter.read_text() == "not a photo of ours"
        assert photos(self.lib, ["rank:1"]).get().filepath.name == f"0001-{first.origname[:-4]}.1.jpg"


CRASHING_BEET = textwrap.dedent("""\
    import os, signal, sys
    limit = int(os.environ["CRASH_AFTER_LINKS"])
    real_link, count = os.link, [0]
    def link(src, dst):
        real_link(src, dst)
        count[0] += 1
        if count[0] == limit:  # killed between link and unlink
            os.kill(os.getpid(), signal.SIGKILL)
    os.link = link
    from beets.ui import main
    main(sys.argv[1:])
    """)


@pytest.mark.slow
@pytest.mark.parametrize("finish", ["resume", "undo"])
def test_killed_mid_rename_loses_nothing(tmp_path, scenes_dir, finish):
    root = copy_tree(scenes_dir[0], tmp_path / "pics")
    beetsdir = featurized_library(tmp_path, root, "{weights: none, model: mobilenet_v3_small}")
    original = tree_state(root)
    script = tmp_path / "crashing_beet.py"
    script.write_text(CRASHING_BEET)
    env = dict(os.environ, BEETSDIR=str(beetsdir), HOME=str(beetsdir), CRASH_AFTER_LINKS="25")
    proc = subprocess.run([sys.executable, str(script), "similar-order"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9  # really killed
    # Every photo's bytes are still on disk, in one file each (a name cut
    # between link and unlink is a second name for the same file).
    after_crash = tree_state(root)
    inodes = {}
    for name, digest in after_crash.items():
        inodes[os.stat(root / name).st_ino] = digest
    assert sorted(inodes.values()) == sorted(original.values())
    refused = run_beet(beetsdir, "similar-order", check=False)
    assert refused.returncode != 0 and "was interrupted" in refused.stderr

    if finish == "resume":
        run_beet(beetsdir, "similar-order", "--resume")
        state = tree_state(root)
        assert sorted(state.values()) == sorted(original.values())
        assert all(name[:4].isdigit() and name[4] == "-" for name in state)
    run_beet(beetsdir, "similar-undo")
    assert tree_state(root) == original
    listed = run_beet(beetsdir, "similar-ls", "-f", "$path").stdout.split()
    assert sorted(listed) == sorted(str(root / n) for n in original)


class TestCopies(SimilarHelper):
    def prepare(self, scenes_dir):
        root = copy_tree(scenes_dir[0], self.photos_dir())
        for i in (3, 17):
            (root / f"again_{i}.jpg").write_bytes((root / f"photo_{i:04d}.jpg").read_bytes())
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small"})
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        return root

    def test_mark(self, scenes_dir):
        self.prepare(scenes_dir)
        self.run_command("similar-order", "--copies", "mark", "--no-rename")
        marked = {p.origname: p.get("duplicate_of") for p in photos(self.lib) if p.get("duplicate_of")}
        keepers = {p.id: p.origname for p in photos(self.lib)}
        assert {k: keepers[v] for k, v in marked.items()} in (
            {"again_3.jpg": "photo_0003.jpg", "again_17.jpg": "photo_0017.jpg"},
            {"photo_0003.jpg": "again_3.jpg", "photo_0017.jpg": "again_17.jpg"},
            {"again_3.jpg": "photo_0003.jpg", "photo_0017.jpg": "again_17.jpg"},
            {"photo_0003.jpg": "again_3.jpg", "again_17.jpg": "photo_0017.jpg"},
        )
        assert len(photos(self.lib, ["duplicate_of:1.."])) == 2

    def test_move_then_undo(self, scenes_dir, capsys):
        root = self.prepare(scenes_dir)
        before = tree_state(root)
        out = self.run_output(capsys, "similar-order", "--copies", "move")
        assert "moved 2 exact copies" in out and "ordered 36 photos" in out
        moved = sorted(os.listdir(root / "duplicates"))
        assert len(moved) == 2
        assert sorted(tree_state(root).values()) == sorted(before.values())
        for p in photos(self.lib, ["duplicate_of:1.."]):
            assert p.filepath.parent.name == "duplicates" and p.filepath.exists()
        self.run_command("similar-undo")  # the order run's renames
        self.run_command("similar-undo")  # the move
        assert tree_state(root) == before

    def test_delete_asks_and_only_then_deletes(self, scenes_dir, monkeypatch):
        root = self.prepare(scenes_dir)
        answers = iter(["no"])
        monkeypatch.setattr("builtins.input", lambda *a: next(answers))
        with pytest.raises(UserError, match="nothing deleted"):
            self.run_command("similar-order", "--copies", "delete")
        assert len(os.listdir(root)) == 38
        answers = iter(["yes"])
        self.run_command("similar-order", "--copies", "delete", "--no-rename")
        assert len(os.listdir(root)) == 36 and len(photos(self.lib)) == 36
        hashes = [p.hash for p in photos(self.lib)]
        assert len(set(hashes)) == 36
