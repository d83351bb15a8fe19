"""`beet similar-review` in a real browser: Debian's chromium driven by
Playwright, on a real library served from a thread. Keys are pressed as a
user would; the files on disk are what is checked."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from beetsplug.similar.library import decisions
from beetsplug.similar.review.server import Server, create_app

from .test_review_api import TOKEN, ReviewHelper, trash_home  # noqa: F401 - a fixture

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
# Set to a file name to save a screenshot of the page there (docs/review.png).
SCREENSHOT = os.environ.get("SIMILAR_REVIEW_SCREENSHOT")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                 reason=f"no {CHROMIUM}: install Debian's chromium (apt)")]


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class TestReviewInBrowser(ReviewHelper):
    def serve(self):
        review = self.fresh()
        server = Server(create_app(review, TOKEN)).start()
        self.servers.append(server)
        return review, f"http://127.0.0.1:{server.port}/?token={TOKEN}"

    def on_disk(self, review, index: int) -> dict[int, str]:
        return self.paths(review.details(index))

    def test_keys_act_on_the_files_undo_and_resume(self, scenes_dir, trash_home, browser):
        from playwright.sync_api import expect

        root = self.library(scenes_dir)
        self.servers: list[Server] = []
        try:
            self._keys(root, trash_home, browser, expect)
        finally:
            for server in self.servers:
                server.stop()

    def _keys(self, root: Path, trash: Path, browser, expect) -> None:
        review, url = self.serve()
        n = len(review.groups)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        counter, message = page.locator("#counter"), page.locator("#message")

        def at(i: int) -> None:
            expect(counter).to_have_text(f"group {i} of {n}")
            expect(page.locator(".card")).to_have_count(len(review.groups[i - 1].ids))

        page.goto(url)
        at(1)
        page.keyboard.press("ArrowRight")
        at(2)
        page.keyboard.press("k")
        at(1)
        page.keyboard.press("j")
        at(2)

        # 2 keeps the second photo; Enter sends the others to the trash.
        files = self.on_disk(review, 1)
        ids = list(files)
        page.keyboard.press("2")
        expect(page.locator(".card.keep")).to_have_count(1)
        page.keyboard.press("Enter")
        expect(message).to_contain_text(f"{len(ids) - 1} photo(s) sent to the trash")
        at(3)
        assert os.path.exists(files[ids[1]])
        gone = [files[i] for i in ids if i != ids[1]]
        assert not any(map(os.path.exists, gone))
        assert sorted(os.listdir(trash)) == sorted(map(os.path.basename, gone))
        expect(page.locator("#totals")).to_contain_text(f"1 resolved · {len(gone)} files")

        # u puts them back and returns to the group.
        page.keyboard.press("u")
        expect(message).to_contain_text("undid the trash")
        at(2)
        assert all(map(os.path.exists, files.values())) and not os.listdir(trash)

        # Space unmarks the suggested keeper and marks the photo under the
        # cursor; Enter keeps that one.
        suggested = review.details(1)["keep"]
        page.keyboard.press("Space")  # the cursor starts on the suggested keeper
        expect(page.locator(".card.keep")).to_have_count(0)
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Space")
        kept = int(page.locator(".card.keep").get_attribute("data-id"))
        assert kept != suggested
        page.keyboard.press("Enter")
        at(3)
        assert os.path.exists(files[kept])
        assert sum(map(os.path.exists, files.values())) == 1

        # s skips, a keeps all; m then Enter moves to the duplicates folder.
        page.keyboard.press("s")
        at(4)
        page.keyboard.press("a")
        expect(message).to_contain_text("kept all")
        at(5)
        moved = self.on_disk(review, 4)
        keep5 = review.details(4)["keep"]
        page.keyboard.press("m")
        expect(page.locator("#mode")).to_contain_text("duplicates folder")
        page.keyboard.press("Enter")
        expect(message).to_contain_text("moved to the duplicates folder")
        at(6)
        assert sorted(os.listdir(root / "duplicates")) == sorted(
            os.path.basename(p) for i, p in moved.items() if i != keep5)
        page.keyboard.press("u")
        at(5)
        assert not os.listdir(root / "duplicates") and all(map(os.path.exists, moved.values()))
        page.keyboard.press("m")  # back to the trash

        # ? shows the keys; z compares two photos, zoom synced up to 100 %.
        page.keyboard.press("?")
        expect(page.locator("#help")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator("#help")).to_be_hidden()
        page.keyboard.press("z")
        expect(page.locator("#compare")).to_be_visible()
        expect(page.locator("#zoom")).to_have_text(re.compile(r"\d+ %"))
        page.keyboard.press("1")
        expect(page.locator("#zoom")).to_have_text("100 %")
        page.keyboard.press("+")
        expect(page.locator("#zoom")).to_have_text("100 %")  # never past 100 %
        transforms = page.locator("#compare img").evaluate_all(
            "imgs => imgs.map(i => i.style.transform)")
        assert len(transforms) == 2 and all("scale" in t for t in transforms)
        page.keyboard.press("0")
        page.keyboard.press("Escape")
        expect(page.locator("#compare")).to_be_hidden()
        if SCREENSHOT:
            page.keyboard.press("ArrowDown")
            page.screenshot(path=SCREENSHOT)

        # b: the suggested keepers of every open group of this kind, after a
        # count of the files and bytes; one u puts them all back.
        before, in_trash = sorted(os.listdir(root)), sorted(os.listdir(trash))
        page.keyboard.press("b")
        expect(page.locator("#bulk-count")).to_contain_text(re.compile(r"\d+ photos \(\d+ files"))
        count = int(re.search(r"(\d+) photos", page.locator("#bulk-count").inner_text())[1])
        page.keyboard.press("Enter")
        expect(message).to_contain_text(f"bulk: {count} photos done")
        assert len(os.listdir(trash)) == len(in_trash) + count
        assert len(os.listdir(root)) == len(before) - count
        page.keyboard.press("u")
        expect(message).to_contain_text("undid the trash")
        assert sorted(os.listdir(root)) == before and sorted(os.listdir(trash)) == in_trash

        # Reloading the page resumes at the group it was on (group 6, open).
        here = int(re.match(r"group (\d+)", counter.inner_text())[1])
        for _ in range(abs(6 - here)):
            page.keyboard.press("ArrowRight" if here < 6 else "ArrowLeft")
        at(6)
        # (the position is saved 300 ms after the last move: wait for group 5's)
        with page.expect_response(lambda r: "/api/position" in r.url
                                  and r.request.post_data_json == {"index": 4}):
            page.keyboard.press("ArrowLeft")
        at(5)
        page.reload()
        at(5)

        # The next similar-review: decided groups gone, the same group first.
        states = decisions.states(self.lib)
        assert sorted(s for s, _ in states.values()) == ["kept_all", "resolved", "skipped"]
        key = review.groups[4].key
        review, url = self.serve()
        assert len(review.groups) == n - 2  # resolved and kept-all do not come back
        n = len(review.groups)
        page.goto(url)
        expect(counter).to_have_text(f"group {review.start + 1} of {n}")
        assert review.groups[review.start].key == key
        page.close()
