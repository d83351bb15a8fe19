"""`beet similar-dupes` and `beet similar-report` on generated photos."""

from __future__ import annotations

import html
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
        assert "group 1: exact, 2 photos" in exact and "1 group (1 exact)" in exact
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

    @pytest.mark.slow
    def test_the_report_shows_the_groups_as_similar_dupes_lists_them(self, scenes_dir, capsys,
                                                                      tmp_path):
        self.prepare(scenes_dir)
        listed = self.run_output(capsys, "similar-dupes", "-t", THRESHOLD, "-f", "$filename")
        titles = re.findall(r"^group \d+: .*$", listed, re.M)
        members = sum(int(n) for n in re.findall(r"^group \d+: \w+, (\d+) photos", listed,
                                                  re.M))
        page, every = tmp_path / "groups.html", tmp_path / "all.html"
        out = self.run_output(capsys, "similar-report", "-t", THRESHOLD, "-o", str(page))
        assert out == f"wrote {page}: {len(titles)} groups of duplicates, {members} photos\n"
        text = page.read_text()
        assert re.findall(r'<div class="title">(.*?)</div>', text) == [
            html.escape(t) for t in titles]
        assert text.count("data:image/jpeg;base64,") == members <= 37  # every photo has its group
        assert "same bytes as the photo kept" in text and " from the photo kept" in text
        assert "from the photo before" not in text and not re.search(r"d = \d", text)
        out = self.run_output(capsys, "similar-report", "--all", "-t", THRESHOLD, "-o",
                              str(every))
        assert out == f"wrote {every}: 37 photos in order, {len(titles)} groups framed\n"
        assert every.stat().st_size > page.stat().st_size

    def test_bad_threshold(self):
        from beets.exceptions import UserError

        from beetsplug.similar import samples

        samples.save_photo(samples.scene(1, (64, 48)), str(self.photos_dir() / "a.jpg"), 1)
        self.run_command("similar-import", str(self.photos_dir()))
        self.config["similar"]["threshold"] = "lots"
        with pytest.raises(UserError, match="threshold"):
            self.run_command("similar-dupes")


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


class TestReport(SimilarHelper):
    @pytest.mark.slow
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
        out = self.run_output(capsys, "similar-report", "--all", "-t", THRESHOLD, "-o",
                              str(page))
        assert f"wrote {page}: 36 photos in order" in out
        text = page.read_text()
        assert text.count("data:image/jpeg;base64,") == 36 and 'class="group"' in text
        assert "0001-photo_" in text and " from the photo before</div>" in text
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


def test_the_sheet_frames_each_group_under_its_title(tmp_path):
    from beetsplug.similar import samples
    from beetsplug.similar.report.sheet import Card, render

    paths = [samples.save_photo(samples.scene(i, (64, 48)), str(tmp_path / f"{i}.jpg"), i)
             for i in range(3)]
    cards = [Card(paths[0], "0.jpg", 1, None, "kept"),
             Card(paths[1], "1.jpg", 1, None, evidence="0.01 from the photo kept"),
             Card(paths[2], "2.jpg", None, None)]
    page, errors = render(cards, "Mine", "1 group of duplicates <here>",
                          {1: "group 1: copy, 2 photos; keep 0.jpg: larger"}, threads=1)
    assert not errors and "<p>1 group of duplicates &lt;here&gt;</p>" in page
    assert ('<div class="group" data-group="1"><div class="title">group 1: copy, 2 photos; '
            'keep 0.jpg: larger</div><div class="card"') in page
    assert page.count('class="card"') == 3 and "from the photo before" not in page


class TestReportGroups(SimilarHelper):
    def test_by_default_only_the_groups_are_shown_titled(self, capsys, tmp_path):
        from beetsplug.similar import samples

        root = self.photos_dir()
        for i in range(3):
            samples.save_photo(samples.scene(i, (96, 64)), str(root / f"p{i}.jpg"), i)
        (root / "p1 (1).jpg").write_bytes((root / "p1.jpg").read_bytes())
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "depth": 1})
        self.run_command("similar-import", str(root))
        page = tmp_path / "r.html"
        out = self.run_output(capsys, "similar-report", "-t", "0.01", "-o", str(page))
        assert out == f"wrote {page}: 1 group of duplicates, 2 photos\n"
        text = page.read_text()
        assert text.count("data:image/jpeg;base64,") == 2
        title = re.search(r'<div class="title">(.*?)</div>', text).group(1)
        assert title == "group 1: exact, 2 photos; keep p1.jpg: not a copy&#x27;s name", title
        assert '<div class="evidence">same bytes as the photo kept</div>' in text
        out = self.run_output(capsys, "similar-report", "-t", "0.01", "-o", str(page), "p0")
        assert out == f"wrote {page}: no duplicates among 1 photo (--all shows every photo)\n"
