"""`beet similar-review` in a real browser: Debian's chromium driven by
Playwright, on a real library served from a thread. Keys are pressed as a
user would; the files on disk are what is checked."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from beetsplug.similar.library import decisions
from beetsplug.similar.review.launch import LaunchFile
from beetsplug.similar.review.server import Server, create_app

from .test_review_api import TOKEN, ReviewHelper, trash_home  # noqa: F401 - a fixture

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# Set to a path prefix to save screenshots of a group of four photos there
# (PREFIX-1280x800.png, PREFIX-1024x768.png).
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
        """A review served, and its launch file's address (as the command opens it)."""
        review = self.fresh()
        server = Server(create_app(review, TOKEN)).start()
        launch = LaunchFile(f"{server.address}?token={TOKEN}").__enter__()
        self.servers += [server, launch]
        return review, launch.uri

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
                server.stop() if isinstance(server, Server) else server.__exit__()

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
        expect(message).to_have_text(f"{len(ids) - 1} photos sent to the trash, u undoes")
        at(3)
        assert os.path.exists(files[ids[1]])
        gone = [files[i] for i in ids if i != ids[1]]
        assert not any(map(os.path.exists, gone))
        assert sorted(os.listdir(trash)) == sorted(map(os.path.basename, gone))
        expect(page.locator("#totals")).to_contain_text(f"1 of {n} decided · {len(gone)} files")

        # u puts them back and returns to the group.
        page.keyboard.press("u")
        expect(message).to_have_text("undid the trash of group 2")
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

        # b: per kind, what would go; none chosen when there are no exact
        # copies; a kind chosen, the count of its files and bytes, Enter,
        # and one u puts them all back.
        before, in_trash = sorted(os.listdir(root)), sorted(os.listdir(trash))
        page.keyboard.press("b")
        expect(page.locator("#bulk-count")).to_have_text(
            "no open group of exact copies: choose a kind (↑ ↓ or a click)")
        kinds = page.locator("#bulk-kinds tbody tr")
        assert kinds.count() == len({g.kind for g in review.groups})
        page.keyboard.press("Enter")  # nothing chosen: nothing done
        expect(page.locator("#bulk")).to_be_visible()
        page.keyboard.press("ArrowDown")
        kind = kinds.first.inner_text().split()[1]
        expect(page.locator("#bulk-count")).to_contain_text(
            re.compile(rf"\d+ photos \(\d+ files, .*\) from \d+ {kind} groups"))
        count = int(re.search(r"(\d+) photos", page.locator("#bulk-count").inner_text())[1])
        page.keyboard.press("Enter")
        expect(message).to_contain_text(f"bulk: {count} photos sent to the trash from ")
        assert len(os.listdir(trash)) == len(in_trash) + count
        assert len(os.listdir(root)) == len(before) - count
        page.keyboard.press("u")
        expect(message).to_contain_text("undid the trash of group ")
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


class TestPageLayout(ReviewHelper):
    """The photos fill the window; the overview shows every group."""

    def test_four_photos_fill_the_window_and_the_overview_jumps(self, scenes_dir, browser):
        from playwright.sync_api import expect

        from beetsplug.similar import samples

        self.library(scenes_dir)
        # A photo and three copies of it in other folders: a group of four
        # exact copies (3:2, as most cameras), besides the near-duplicates.
        shoot = self.photos_dir("shoot")
        picture = samples.scene(7, (1500, 1000))
        for folder, name in (("2021/june", "IMG_1001.jpg"), ("backup", "IMG_1001.jpg"),
                             ("phone", "IMG_1001 (1).jpg"), ("export", "IMG_1001-2.jpg")):
            (shoot / folder).mkdir(parents=True)
            samples.save_photo(picture, str(shoot / folder / "first.jpg"), 7)
            (shoot / folder / "first.jpg").rename(shoot / folder / name)
        for folder in ("backup", "phone", "export"):  # the same bytes
            name = next((shoot / folder).iterdir())
            name.write_bytes((shoot / "2021/june/IMG_1001.jpg").read_bytes())
        self.run_command("similar-import", str(shoot))
        review = self.fresh()
        four = next(g for g in review.groups if g.kind == "exact")
        assert len(four.ids) == 4 and len({g.kind for g in review.groups}) > 1
        server = Server(create_app(review, TOKEN)).start()
        try:
            with LaunchFile(f"{server.address}?token={TOKEN}") as launch:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(launch.uri)
                expect(page.locator("#counter")).to_contain_text("group ")

                # g: every group, decided or not; f keeps one kind; Enter opens.
                page.keyboard.press("g")
                tiles = page.locator("#tiles .tile")
                expect(tiles).to_have_count(len(review.groups))
                expect(page.locator("#progress")).to_have_text(
                    f"0 of {len(review.groups)} groups decided")
                expect(tiles.first).to_contain_text(
                    f"1 · {review.groups[0].kind} · {len(review.groups[0].ids)} photos")
                while page.locator("#kinds .on").inner_text() != "exact: 0 of 1 decided":
                    page.keyboard.press("f")
                expect(tiles).to_have_count(1)
                page.keyboard.press("Enter")
                expect(page.locator("#overview")).to_be_hidden()
                expect(page.locator("#counter")).to_have_text(
                    f"group {four.index + 1} of {len(review.groups)}")
                expect(page.locator("#only")).to_have_text("only exact")
                page.keyboard.press("j")  # no other exact group: j stays
                expect(page.locator("#message")).to_have_text("no next exact group")

                def shown(height: int) -> list[dict]:
                    page.wait_for_function("[...document.querySelectorAll('.card .shot')]"
                                           ".every(i => i.complete && i.naturalWidth)")
                    boxes = page.locator(".card .shot").evaluate_all(
                        "a => a.map(i => i.getBoundingClientRect().toJSON())")
                    lines = page.locator(".caption > div:first-child").evaluate_all(
                        "a => a.map(l => [l.getBoundingClientRect().bottom, l.textContent])")
                    assert len(boxes) == 4 and all(b["top"] >= 0 and b["bottom"] <= height
                                                   for b in boxes)
                    # date, camera and folder under every photo, in the window
                    assert all(bottom <= height and " · " in text and "IMG_1001" not in text
                               for bottom, text in lines)
                    return boxes

                for box in shown(800):  # each at least 45 % of the window's height
                    assert box["height"] >= 0.45 * 800, box
                captions = page.locator(".caption > div:first-child").all_inner_texts()
                assert sum(t.startswith("identical file · ") for t in captions) == 3
                first = review.details(four.index)["photos"][0]  # as the library has them
                assert samples.CAMERAS[7 % len(samples.CAMERAS)][1] in first["camera"]
                assert all(t.endswith(f" · {first['taken']} · {first['camera']}")
                           for t in captions), captions
                assert {t.split(" · ")[1] for t in captions} == {
                    "…/shoot/backup", "…/shoot/phone", "…/shoot/export", "…/2021/june"}
                if SCREENSHOT:
                    page.screenshot(path=f"{SCREENSHOT}-1280x800.png")
                page.set_viewport_size({"width": 1024, "height": 768})
                page.wait_for_timeout(200)
                shown(768)  # the fourth photo is not below the fold
                if SCREENSHOT:
                    page.screenshot(path=f"{SCREENSHOT}-1024x768.png")

                # A near-duplicate says how close it is, the figures on hover.
                page.keyboard.press("g")
                while page.locator("#kinds .on").inner_text().split(" (")[0] != "all":
                    page.keyboard.press("f")
                near = next(g for g in review.groups if g.kind != "exact")
                page.locator(f"#tiles .tile[data-index='{near.index}']").click()
                expect(page.locator("#counter")).to_have_text(
                    f"group {near.index + 1} of {len(review.groups)}")
                titles = page.locator(".card .match[title]").evaluate_all(
                    "a => a.map(m => [m.textContent, m.title])")
                assert len(titles) == len(near.ids) - 1
                assert all(title.startswith("distance ") for _, title in titles), titles

                # b: exact copies chosen first, every kind listed.
                page.keyboard.press("b")
                chosen = page.locator("#bulk-kinds tr.chosen")
                expect(chosen).to_contain_text("▶ exact")
                expect(page.locator("#bulk-count")).to_have_text(
                    "Send to the trash: 3 photos (3 files, "
                    + page.locator("#bulk-kinds tr.chosen td").nth(4).inner_text()
                    + ") from 1 exact group, keeping the suggested keeper of each. u undoes "
                      "it as one action.")
                assert page.locator("#bulk-kinds tbody tr").count() == len(
                    {g.kind for g in review.groups})
                page.keyboard.press("Escape")
                page.close()
        finally:
            server.stop()

    def test_a_second_tab_cannot_decide_a_group_the_first_resolved(self, scenes_dir,
                                                                   trash_home, browser):
        from playwright.sync_api import expect

        self.library(scenes_dir)
        review = self.fresh()
        n = len(review.groups)
        server = Server(create_app(review, TOKEN)).start()
        try:
            with LaunchFile(f"{server.address}?token={TOKEN}") as launch:
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                first, second = context.new_page(), context.new_page()
                first.goto(launch.uri)
                expect(first.locator("#counter")).to_have_text(f"group 1 of {n}")
                second.goto(server.address)  # the same browser: its cookie
                expect(second.locator(".card")).to_have_count(len(review.groups[0].ids))
                first.keyboard.press("Enter")  # the first tab trashes the extras
                expect(first.locator("#message")).to_contain_text("sent to the trash, u undoes")
                second.keyboard.press("a")  # the second still shows them: refused
                expect(second.locator("#message")).to_have_text(
                    "group 1 changed since this page showed it (it is resolved now); it is "
                    "shown as it is now")
                expect(second.locator(".card")).to_have_count(1)  # as it is now
                expect(second.locator("#reason")).to_contain_text("(resolved)")
                assert decisions.not_duplicates(self.lib) == set()
                second.keyboard.press("u")  # one review: u undoes the first tab's trash
                expect(second.locator("#message")).to_have_text("undid the trash of group 1")
                expect(second.locator(".card")).to_have_count(len(review.groups[0].ids))
                assert not os.listdir(trash_home)
                context.close()
        finally:
            server.stop()

    def test_a_group_undone_in_the_terminal_is_shown_open_again(self, scenes_dir, trash_home,
                                                                browser):
        """The attack's case: Enter, then `beet similar-undo` in a terminal,
        then back to that group in the page still open (no reload): it is
        shown open, with its photos back, and the counts as they are now;
        not as the page read it before."""
        from playwright.sync_api import expect

        self.library(scenes_dir)
        review = self.fresh()
        n, ids = len(review.groups), review.groups[0].ids
        server = Server(create_app(review, TOKEN)).start()
        try:
            with LaunchFile(f"{server.address}?token={TOKEN}") as launch:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(launch.uri)
                expect(page.locator(".card")).to_have_count(len(ids))
                page.keyboard.press("Enter")
                expect(page.locator("#counter")).to_have_text(f"group 2 of {n}")
                expect(page.locator("#totals")).to_contain_text(f"1 of {n} decided")
                page.wait_for_timeout(500)  # the page has read group 1 again (prefetch)
                self.run_command("similar-undo")
                page.keyboard.press("k")
                expect(page.locator("#counter")).to_have_text(f"group 1 of {n}")
                expect(page.locator(".card")).to_have_count(len(ids))
                expect(page.locator("#reason")).not_to_contain_text("resolved")
                expect(page.locator("#totals")).to_contain_text(f"0 of {n} decided · 0 files")
                page.close()
        finally:
            server.stop()
