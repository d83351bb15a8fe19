"""`beet similar-review` keeps its token to the user who started it: the
browser gets a private file, not the token on its command line; the token
is asked for once and then lives in an HttpOnly, SameSite=Strict cookie;
no request is logged; only 127.0.0.1 and localhost are answered."""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from beetsplug.similar import samples
from beetsplug.similar.commands import review as review_command
from beetsplug.similar.review.launch import LaunchFile
from beetsplug.similar.review.server import Server, cookie_name, create_app

from .conftest import SimilarHelper, ctrl_c_as_in_a_terminal, run_beet, write_config
from .test_review_api import TOKEN, similar_plugin

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def exact_copies(folder: Path) -> Path:
    """Two photos, each with an exact copy: two groups found without the network."""
    samples.make_groups(str(folder), groups=2, per_group=1, size=(160, 120))
    for photo in sorted(folder.glob("*.jpg")):
        shutil.copy(photo, folder / f"copy of {photo.name}")
    return folder


def fetch(url: str, cookie: str = "", host: str = "") -> tuple[int, dict, bytes]:
    """(status, headers, body) of a GET, errors included."""
    request = urllib.request.Request(url)
    if cookie:
        request.add_header("Cookie", cookie)
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def signed_in(address: str, token: str) -> str:
    """Open the token's address as the launch file does; the cookie it sets."""
    status, headers, _ = fetch(f"{address}?token={token}")
    assert status == 200, status
    return headers["Set-Cookie"].split(";")[0]


class TestSecrets(SimilarHelper):
    def review(self):
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "depth": 1})
        self.run_command("similar-import", str(exact_copies(self.photos_dir())))
        return review_command.open_review(similar_plugin(), self.lib, [], "exact")

    def test_the_token_is_asked_once_then_kept_in_an_httponly_strict_cookie(self):
        client = create_app(self.review(), TOKEN).test_client()
        signed = client.get(f"/?token={TOKEN}")
        assert signed.status_code == 200 and TOKEN not in signed.get_data(as_text=True)
        assert 'http-equiv="refresh" content="0; url=/"' in signed.get_data(as_text=True)
        cookie = signed.headers["Set-Cookie"]
        assert cookie.startswith(f"{cookie_name('localhost')}={TOKEN};")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert signed.headers["Cache-Control"] == "no-store"
        # The page and its script carry no token; its requests are answered by the cookie.
        page = client.get("/")
        assert page.status_code == 200 and TOKEN not in page.get_data(as_text=True)
        scripts = re.findall(r'src="(/static/[^"]+\.js)"', page.get_data(as_text=True))
        assert len(scripts) > 1
        for script in scripts:
            code = client.get(script).get_data(as_text=True)
            assert "token" not in code.replace("no token is in any address", ""), script
        group = client.get("/api/groups/0").get_json()
        assert client.get(f"/img/{group['keep']}/thumb").mimetype == "image/jpeg"
        # Without the cookie, the token in any other address is not taken.
        client.delete_cookie(cookie_name("localhost"))
        assert client.get("/").status_code == 403
        assert client.get(f"/api/state?token={TOKEN}").status_code == 403
        assert client.get(f"/img/{group['keep']}/thumb?token={TOKEN}").status_code == 403
        assert client.get("/?token=wrong").status_code == 403

    def test_a_non_ascii_token_is_refused_not_an_error(self, caplog):
        client = create_app(self.review(), TOKEN).test_client()
        for answer in (client.get("/?token=%C3%A9"),
                       client.get("/api/state", headers={"X-Review-Token": "é"}),
                       client.get("/api/state", headers={"Cookie": f"{cookie_name('localhost')}"
                                                                   "=%C3%A9"})):
            assert answer.status_code == 403 and answer.is_json
            assert "\n" not in answer.get_json()["error"]
        assert not [r for r in caplog.records if r.levelname in ("ERROR", "WARNING")]

    def test_only_127_0_0_1_and_localhost_are_answered(self):
        client = create_app(self.review(), TOKEN).test_client()
        header = {"X-Review-Token": TOKEN}
        for host in ("evil.example", "evil.example:8123", "127.0.0.1.evil.example",
                     "[::1]:8123"):
            refused = client.get("/api/state", headers={**header, "Host": host})
            assert refused.status_code == 403, host
            assert refused.get_json()["error"].startswith("this review answers at 127.0.0.1 only")
            assert client.get("/static/review.css", headers={"Host": host}).status_code == 403
        for host in ("127.0.0.1:8123", "localhost:8123", "LOCALHOST"):
            assert client.get("/api/state", headers={**header, "Host": host}).status_code == 200

    def test_no_request_is_logged_and_the_icon_is_no_403(self, capfd, caplog):
        server = Server(create_app(self.review(), TOKEN)).start()
        try:
            address = f"http://127.0.0.1:{server.port}/"
            capfd.readouterr()
            cookie = signed_in(address, TOKEN)
            assert fetch(address + "api/state", cookie)[0] == 200
            assert fetch(address + "favicon.ico")[0] == 204
            assert fetch(address + "api/state?token=nope")[0] == 403
            assert fetch(address + "?token=%C3%A9")[0] == 403
        finally:
            server.stop()
        out, err = capfd.readouterr()
        assert out == "" and err == ""
        assert not [r.getMessage() for r in caplog.records if r.name.startswith("werkzeug")]

    def test_the_launch_file_is_private_and_removed(self):
        url = f"http://127.0.0.1:8123/?token={TOKEN}"
        with LaunchFile(url) as launch:
            path = Path(launch.path)
            assert launch.uri == path.as_uri() and TOKEN not in launch.uri
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
            assert f'content="0; url={url}"' in path.read_text()
        assert not path.parent.exists()

    def test_the_command_opens_the_private_file_and_prints_no_token(self, capfd, monkeypatch):
        self.run_command("similar-import", str(exact_copies(self.photos_dir())))
        seen: dict = {}

        def browser(uri: str) -> bool:  # what a browser opened by the command would do
            seen["uri"] = uri
            path = Path(uri.removeprefix("file://"))
            seen["mode"] = stat.S_IMODE(path.stat().st_mode)
            url = re.search(r'url=([^"]+)"', path.read_text())[1]
            seen["token"] = url.partition("?token=")[2]
            cookie = signed_in(url.partition("?")[0], seen["token"])
            seen["state"] = fetch(url.partition("?")[0] + "api/state", cookie)[0]
            seen["path"] = path
            raise KeyboardInterrupt  # the user is done: Ctrl-C

        monkeypatch.setattr(review_command.webbrowser, "open", browser)
        capfd.readouterr()
        self.run_command("similar-review", "--kind", "exact")
        out, err = capfd.readouterr()
        assert seen["uri"].startswith("file://") and seen["token"] not in seen["uri"]
        assert seen["mode"] == 0o600 and seen["state"] == 200
        assert not seen["path"].exists()  # removed when the review stopped
        assert seen["token"] not in out + err
        assert out.startswith(f"opening {seen['uri']} in a browser (only you can read it")
        assert "review stopped: 0 groups resolved" in out

    def test_kill_stops_the_review_as_ctrl_c_does(self, capfd, monkeypatch):
        self.review()
        seen: dict = {}

        def browser(uri: str) -> bool:
            seen["path"] = Path(uri.removeprefix("file://"))
            os.kill(os.getpid(), signal.SIGTERM)  # `kill` of the review
            return True

        monkeypatch.setattr(review_command.webbrowser, "open", browser)
        before = signal.getsignal(signal.SIGTERM)
        self.run_command("similar-review", "--kind", "exact")
        assert "review stopped: 0 groups resolved" in capfd.readouterr().out
        assert not seen["path"].parent.exists()  # the launch file went with it
        assert signal.getsignal(signal.SIGTERM) == before


    def test_ctrl_c_while_the_server_starts_stops_it_as_ever(self, capfd, monkeypatch):
        """The attack's case: Ctrl-C right after the address lines, while the
        server's thread starts. The review stops with its summary line (it
        ended with two tracebacks: the server thread's "Invalid file
        descriptor" and "cannot join thread before it is started")."""
        self.review()
        start = Server.start

        def pressed(server):
            os.kill(os.getpid(), signal.SIGINT)  # as the terminal sends it
            time.sleep(0.5)  # here comes the KeyboardInterrupt, unless it waits
            return start(server)

        monkeypatch.setattr(Server, "start", pressed)
        monkeypatch.setattr(review_command.webbrowser, "open", lambda uri: True)
        self.run_command("similar-review", "--kind", "exact")
        out, err = capfd.readouterr()
        assert "review stopped: 0 groups resolved" in out
        assert "Traceback" not in err and "Exception" not in err

@pytest.mark.slow
def test_the_real_command_shows_its_token_to_no_one(tmp_path):
    """The real command, its browser a script that records its arguments
    (what `ps` shows): the token is neither there nor in the command's
    output; Ctrl-C stops it and removes the private file."""
    photos = exact_copies(tmp_path / "photos")
    photos.mkdir(exist_ok=True)
    beetsdir = write_config(tmp_path / "beets", "similar: {weights: none, model: "
                                                "mobilenet_v3_small, depth: 1}\n")
    run_beet(beetsdir, "similar-import", str(photos))
    bad = run_beet(beetsdir, "similar-review", "--no-browser", "--kind", "odd", check=False)
    assert bad.returncode != 0 and "unknown --kind 'odd'" in bad.stderr
    argv = tmp_path / "browser-argv"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$0" "$@" > {argv}\n')
    browser.chmod(0o700)
    env = dict(os.environ, BEETSDIR=str(beetsdir), HOME=str(beetsdir), BROWSER=str(browser))
    proc = subprocess.Popen([sys.executable, "-m", "beets", "similar-review", "--kind", "exact"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ctrl_c_as_in_a_terminal)
    try:
        first = proc.stdout.readline()
        uri = re.search(r"(file://\S+)", first)[1]
        launch = Path(uri.removeprefix("file://"))
        url = re.search(r'url=([^"]+)"', launch.read_text())[1]
        address, token = url.split("?token=")
        for _ in range(100):  # the browser is started in the background
            if argv.exists() and argv.read_text().count("\n") >= 2:
                break
            subprocess.run(["sleep", "0.1"])
        assert argv.read_text().splitlines()[1:] == [uri]
        with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
            assert token.encode() not in f.read()
        cookie = signed_in(address, token)
        assert fetch(address + "api/state", cookie)[0] == 200
        assert fetch(address + "api/state", cookie, host=f"evil.example:{address[-6:-1]}")[0] \
            == 403
        assert fetch(address + "?token=%C3%A9")[0] == 403
        assert fetch(address + "favicon.ico")[0] == 204
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert token not in first + out + err
    assert "review stopped: 0 groups resolved" in out
    assert not launch.exists() and not launch.parent.exists()


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no {CHROMIUM}: install chromium")
class TestInBrowser(SimilarHelper):
    def test_the_launch_file_signs_in_one_browser_only(self):
        from playwright.sync_api import sync_playwright

        self.run_command("similar-import", str(exact_copies(self.photos_dir())))
        review = review_command.open_review(similar_plugin(), self.lib, [], "exact")
        server = Server(create_app(review, TOKEN)).start()
        try:
            with LaunchFile(f"{server.address}?token={TOKEN}") as launch, \
                    sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                mine = browser.new_context()
                page = mine.new_page()
                page.goto(launch.uri)
                page.wait_for_selector(".card img")
                assert page.url == server.address  # no token in the address
                sources = page.locator("img").evaluate_all("a => a.map(i => i.src)")
                assert sources and not any(TOKEN in s for s in sources)
                assert page.evaluate("document.cookie") == ""  # HttpOnly: not for scripts
                # A second tab of the same browser is in; another browser is not.
                tab = mine.new_page()
                tab.goto(server.address)
                tab.wait_for_selector(".card img")
                other = browser.new_context().new_page()
                assert other.goto(server.address).status == 403
                browser.close()
        finally:
            server.stop()
