"""`beet similar-review` on thousands of groups: how long it takes to open,
and to move to the next group.

    python benchmarks/review.py [--photos 21000] [--dim 512] [--steps 40]

Writes a library of N synthetic photos with vectors (as benchmarks/scale.py,
bursts of 1 to 6 shots: about N / 4.2 groups), real JPEGs for the groups it
visits, then starts the real command (`beet similar-review --no-browser`)
and, over HTTP as the page does:
- open: from the command's start to its address line (the grouping pass of
  `similar-dupes`, timed too), then the page's first requests (page, state,
  first group, its previews);
- next group: the group's JSON, and its previews made (what the page
  prefetches while the user looks at the group before), median and worst;
- in a real browser (Debian's chromium): the page open with its first
  group's images, and `j` to the next group shown with its images;
- bulk count: the confirmation's files and bytes over every open group.
Ends the command with Ctrl-C (SIGINT), as a user would.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from scale import write_library  # noqa: E402

from beetsplug.similar import samples  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def get(url: str, token: str = "") -> tuple[float, bytes]:
    """A GET with the review's token in its header (as a script asks)."""
    t0 = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers={"X-Review-Token": token})
                                ) as response:
        data = response.read()
    return time.perf_counter() - t0, data


def browse(url: str, steps: int) -> None:
    """In Debian's chromium (when there): the page shown with its first
    group's images, then ``j`` pressed after 1 s on each group (the user
    looking, the page prefetching): the time to the next group's counter,
    cards and images, as the page itself measures it."""
    if not os.path.exists(CHROMIUM):
        print(f"browser: skipped, no {CHROMIUM}")
        return
    from playwright.sync_api import sync_playwright

    shown = """n => new Promise(done => { const t0 = performance.now(); const check = () => {
        const imgs = [...document.querySelectorAll('.card img')];
        if (document.querySelector('#counter').textContent.startsWith(`group ${n} `)
            && imgs.length && imgs.every(i => i.complete && i.naturalWidth))
          done(performance.now() - t0); else requestAnimationFrame(check); }; check(); })"""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_url(url.partition("?")[0])  # signed in: the cookie does the rest
        start = int(page.evaluate("fetch('/api/state').then(r => r.json()).then(s => s.start)"))
        page.evaluate(shown, start + 1)
        opened = time.perf_counter() - t0
        times = []
        for i in range(start + 2, start + 2 + min(steps, 20)):
            page.wait_for_timeout(1000)
            page.evaluate("window.__t0 = performance.now()")
            page.keyboard.press("j")
            page.evaluate(shown, i)
            times.append(page.evaluate("performance.now() - window.__t0"))
        browser.close()
    print(f"browser: page open with the first group's images {opened:.2f} s; next group "
          f"(key to counter, cards and images) median {statistics.median(times):.0f} ms, "
          f"worst {max(times):.0f} ms over {len(times)} steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=21_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--steps", type=int, default=40, help="groups to step through")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="similar-review-")
    t0 = time.perf_counter()
    write_library(folder, args.photos, args.dim)
    os.makedirs(os.path.join(folder, "photos"))
    # Real files for the photos the steps show (the first groups); 4000x3000
    # in the rows, 1600x1200 on disk: the previews are made from these.
    scenes = [samples.scene(s, (1600, 1200)) for s in range(6)]
    for i in range(1, args.steps * 7 + 40):
        samples.save_photo(scenes[i % len(scenes)],
                           os.path.join(folder, "photos", f"IMG_{i:07d}.jpg"), i)
    print(f"library: {args.photos} photos written in {time.perf_counter() - t0:.1f} s")

    env = dict(os.environ, BEETSDIR=folder, HOME=folder, TF_CPP_MIN_LOG_LEVEL="3")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "beets", "similar-dupes", "-f", "$id"], env=env,
                   check=True, capture_output=True)
    print(f"similar-dupes on the same library, for comparison: "
          f"{time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "beets", "similar-review", "--no-browser"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    before = []  # lines before the address: a calibration made first, say
    while (line := proc.stdout.readline().strip()) and "file://" not in line:
        before.append(line)
    started = time.perf_counter() - t0
    for said in before:
        print(f"(similar-review said first: {said})")
    if "file://" not in line:
        proc.kill()
        raise SystemExit(f"no address from similar-review: {line}\n{proc.stderr.read()}")
    # The private launch file holds the address with the token.
    launch = line.split("file://")[1].split()[0]
    with open(launch, encoding="utf-8") as f:
        url = f.read().split('url=')[1].split('"')[0]
    base, token = url.split("/?token=")
    api = lambda path: f"{base}{path}"  # noqa: E731
    try:
        page_s, _ = get(api("/"), token)
        state_s, data = get(api("/api/state"), token)
        state = json.loads(data)
        first_s, data = get(api(f"/api/groups/{state['start']}"), token)
        shots = [get(api(f"/img/{p['id']}/large"), token)[0]
                 for p in json.loads(data)["photos"]]
        print(f"groups: {state['total']}")
        print(f"open: command to address {started:.2f} s (grouping included); page "
              f"{page_s * 1000:.0f} ms, state {state_s * 1000:.0f} ms, first group "
              f"{first_s * 1000:.0f} ms, its previews {sum(shots) * 1000:.0f} ms")
        group_ms, preview_ms = [], []
        for i in range(1, min(args.steps, state["total"] - 1) + 1):
            seconds, data = get(api(f"/api/groups/{i}"), token)
            group_ms.append(seconds * 1000)
            preview_ms.append(sum(get(api(f"/img/{p['id']}/large"), token)[0]
                                  for p in json.loads(data)["photos"]) * 1000)
        print(f"next group: JSON median {statistics.median(group_ms):.1f} ms, worst "
              f"{max(group_ms):.1f} ms; with its previews made median "
              f"{statistics.median(preview_ms):.0f} ms, worst {max(preview_ms):.0f} ms "
              f"(prefetched by the page while the group before is shown)")
        again = [get(api(f"/img/{p['id']}/large"), token)[0] * 1000
                 for p in json.loads(get(api("/api/groups/1"), token)[1])["photos"]]
        print(f"a preview again (cached): {statistics.median(again):.1f} ms")
        browse(url, args.steps)
        seconds, data = get(api("/api/bulk"), token)
        kinds = json.loads(data)["kinds"].values()
        print(f"bulk count: {sum(k['groups'] for k in kinds)} groups, "
              f"{sum(k['photos'] for k in kinds)} photos in {seconds * 1000:.0f} ms")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        print(f"Ctrl-C: exit status {proc.returncode}; {out.strip().splitlines()[-1]}")
        subprocess.run(["rm", "-rf", folder])


if __name__ == "__main__":
    main()
