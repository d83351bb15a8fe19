"""`beet similar-dupes` and `beet similar-report` on generated photos."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from beetsplug.similar.grouping.near import near_groups
from beetsplug.similar.search.exact import pair_distances
from beetsplug.similar.library.photos import photos

from .conftest import SimilarHelper, copy_tree
from .test_order_command import group_of

THRESHOLD = "0.003"  # untrained MobileNetV3Small: precise (benchmarks/threshold.py)


def test_near_groups_link_under_threshold():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 32)).astype(np.float32)
    x = np.stack([a, a * 2 + 0.001, b, b + 0.001, -a])
    assert near_groups(x, 0.01, "cosine") == [[0, 1], [2, 3]]
    assert near_groups(x, 0.01, "euclidean") == [[2, 3]]
    d = pair_distances(x, "cosine")
    assert d.shape == (4,) and d[0] < 1e-4 and d[1] > 0.1


class TestDupes(SimilarHelper):
    def prepare(self, scenes_dir):
        root = copy_tree(scenes_dir[0], self.photos_dir())
        (root / "again.jpg").write_bytes((root / "photo_0005.jpg").read_bytes())
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small"})
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        return root

    def test_groups_are_near_duplicates_with_a_keeper(self, scenes_dir, capsys):
        self.prepare(scenes_dir)
        out = self.run_output(capsys, "similar-dupes", "-t", THRESHOLD, "-f", "$origname")
        group = group_of(scenes_dir)
        group["again.jpg"] = group["photo_0005.jpg"]
        blocks = re.findall(r"group \d+: (\w+), (\d+) photos[^\n]*\n((?:  .*\n)+)", out)
        assert len(blocks) >= 4
        for _kind, count, lines in blocks:
            names = [line[4:].split("  (")[0] for line in lines.splitlines()]
            assert int(count) == len(names) and lines.count("*") == 1
            assert len({group[n] for n in names}) == 1  # precise: one scene each
        # The exact copy is shown once, inside its scene's group, as one.
        again = [line for line in out.splitlines() if line[4:].startswith("again.jpg")]
        assert len(again) == 1
        pair = {"again.jpg", "photo_0005.jpg"}
        noted = [line[4:] for line in out.splitlines()
                 if line.startswith("  ") and "(same bytes as" in line]
        assert len(noted) == 1 and {noted[0].split("  (same bytes as ")[0],
                                    noted[0].split("  (same bytes as ")[1][:-1]} == pair
        assert "exact copies: 1 (same bytes as another photo, in 1 set)" in out
        exact = self.run_output(capsys, "similar-dupes", "--exact", "-f", "$origname")
        assert "group 1: exact, 2 photos" in exact and "1 groups" in exact
        assert "exact copies: 1 (same bytes as another photo, in 1 set)" in exact

    def test_tag_and_move(self, scenes_dir, capsys):
        root = self.prepare(scenes_dir)
        self.run_command("similar-dupes", "-t", THRESHOLD, "--tag")
        tagged = photos(self.lib, ["duplicate_of:1.."])
        assert len(tagged) >= 4
        out = self.run_output(capsys, "similar-dupes", "--exact", "--move")
        assert "moved 1 exact copy (same bytes as the photo kept)" in out
        assert len(os.listdir(root / "duplicates")) == 1
        self.run_command("similar-undo")
        assert not os.listdir(root / "duplicates")

    def test_bad_threshold(self):
        from beets.exceptions import UserError

        self.config["similar"]["threshold"] = "lots"
        with pytest.raises(UserError, match="threshold"):
            self.run_command("similar-dupes")


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


class TestReport(SimilarHelper):
    def test_report_opens_in_a_real_browser(self, scenes_dir, capsys, tmp_path):
        if not chromium():
            if os.environ.get("CI"):
                pytest.fail("chromium is missing: .ci/run installs it")
            pytest.skip("chromium not installed (apt-get install chromium)")
        root = copy_tree(scenes_dir[0], self.photos_dir())
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small"})
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize")
        self.run_command("similar-order")
        page = tmp_path / "report.html"
        out = self.run_output(capsys, "similar-report", "-t", THRESHOLD, "-o", str(page))
        assert f"wrote {page}: 36 photos" in out
        text = page.read_text()
        assert text.count("data:image/jpeg;base64,") == 36 and 'class="group"' in text
        assert "0001-photo_" in text and "d = " in text
        assert "src=\"http" not in text and "href=" not in text  # nothing outside the file

        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}"]
        dom = subprocess.run([chromium(), *flags, "--dump-dom", page.as_uri()],
                             capture_output=True, text=True, timeout=120).stdout
        assert 'data-loaded="36"' in dom
        shot = tmp_path / "shot.png"
        subprocess.run([chromium(), *flags, f"--screenshot={shot}", "--window-size=1200,900",
                        page.as_uri()], capture_output=True, timeout=120)
        img = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
        assert img.std() > 20  # not blank
        assert len(np.unique(img.reshape(-1, 3)[::7], axis=0)) > 500  # photos, not flat colour
