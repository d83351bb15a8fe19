"""Shared fixtures: generated photos and a beets library with the plugin."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import ClassVar

import pytest
from beets.test.helper import PluginTestHelper

from beetsplug.similar import samples

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Real photos for the benchmarks' truth and a few full-tier tests: beside
# the project (../shared/photos), or where SIMILAR_SHARED_PHOTOS says. They
# are never shipped; the quick tier never needs them.
SHARED_PHOTOS = Path(os.environ.get("SIMILAR_SHARED_PHOTOS") or
                     Path(__file__).resolve().parents[2] / "shared" / "photos")
_missing_photos: set[str] = set()
_running: pytest.Item | None = None  # the test being run (see ``shared_photos``)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    global _running
    _running = item


def shared_photos(folder: str) -> Path:
    """``SHARED_PHOTOS/folder``; skips the test, and names what is missing
    at the end of the run, when it is absent. Only a ``slow`` test may ask:
    the quick tier runs in any clone, with no skip."""
    if _running is not None and _running.get_closest_marker("slow") is None:
        pytest.fail(f"{_running.name} needs ../shared/photos: mark it slow, or use the "
                    "shipped photos of tests/data/photos", pytrace=False)
    path = SHARED_PHOTOS / folder
    if not path.is_dir():
        _missing_photos.add(str(path))
        pytest.skip(f"needs the real photos of {path} (set SIMILAR_SHARED_PHOTOS)")
    return path


# Two tiers. The quick one (plain `pytest`) covers every command and
# safety path; `slow` tests (a real browser, the pretrained network,
# interruptions of a real `beet`, big libraries) run with `--full` (what
# CI runs) or alone with `-m slow`.
def pytest_addoption(parser):
    parser.addoption("--full", action="store_true",
                     help="run the full tier: the slow tests too (what CI runs)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--full") or config.getoption("markexpr"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        items[:] = [item for item in items if not item.get_closest_marker("slow")]
        config.hook.pytest_deselected(items=slow)
        config._similar_quick = len(slow)


@pytest.hookimpl(wrapper=True, tryfirst=True)  # after pytest's summary of skips and failures
def pytest_terminal_summary(terminalreporter, config):
    result = yield
    if getattr(config, "_similar_quick", 0):
        n = config._similar_quick
        terminalreporter.write_line(f"quick tier: {n} slow test{'s' * (n != 1)} not run; "
                                    "`pytest --full` runs every test")
    for path in sorted(_missing_photos):
        terminalreporter.write_line(
            f"missing: the real photos of {path}; the tests that need them were skipped "
            "(put the project's shared photos there, or set SIMILAR_SHARED_PHOTOS)")
    return result


@pytest.fixture(autouse=True)
def beets_log_handlers():
    """Put back the beets logger's handlers after each test: a command run in
    the test process adds one on the test's captured stderr, closed after it."""
    import logging
    log = logging.getLogger("beets")
    before = list(log.handlers)
    yield
    log.handlers[:] = before


class SimilarHelper(PluginTestHelper):
    """A temporary beets library (on disk) with the plugin loaded."""

    plugin: ClassVar[str] = "similar"
    db_on_disk: ClassVar[bool] = True

    def run_output(self, capsys, *args: str) -> str:
        capsys.readouterr()
        self.run_command(*args)
        return capsys.readouterr().out

    def photos_dir(self, name: str = "photos") -> Path:
        path = self.temp_path / name
        path.mkdir(exist_ok=True)
        return path


@pytest.fixture(scope="session")
def scenes_dir(tmp_path_factory) -> tuple[Path, dict[int, list[str]]]:
    """12 groups of 3 near-duplicates, shuffled names; made once, copy it."""
    folder = tmp_path_factory.mktemp("scenes")
    groups = samples.make_groups(str(folder), groups=12, per_group=3, size=(320, 240))
    return folder, groups


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, dirs_exist_ok=True)
    return dst


def ctrl_c_as_in_a_terminal() -> None:
    """For ``preexec_fn``: SIGINT raises KeyboardInterrupt in the child, as
    at a terminal, even when these tests run in the background (where
    SIGINT is ignored, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_beet(beetsdir: Path, script: Path, *args: str, moment: Path, cwd: Path | None = None,
               **env: str) -> subprocess.Popen:
    """Start ``script`` (the real command line with a hook that creates the
    file named by its environment's STARTED, here ``moment``, when it
    reaches the point a test waits for) with ``args``; return once it is
    there, or has ended. SIGINT acts on it as at a terminal."""
    proc = subprocess.Popen(
        [sys.executable, str(script), *args], cwd=cwd, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_as_in_a_terminal,
        env=dict(os.environ, BEETSDIR=str(beetsdir), HOME=str(beetsdir), STARTED=str(moment),
                 **env))
    deadline = time.monotonic() + 300
    while not moment.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    return proc


def run_beet(beetsdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real ``beet`` command line in a subprocess."""
    env = dict(os.environ, BEETSDIR=str(beetsdir), HOME=str(beetsdir))
    proc = subprocess.run(
        [sys.executable, "-m", "beets", *args], env=env, capture_output=True,
        text=True, timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"beet {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def featurized_library(tmp_path: Path, photos: Path, similar: str) -> Path:
    """A beets folder whose library has ``photos`` imported and featurized,
    by the real ``beet`` command, with ``similar`` as the plugin's config."""
    beetsdir = write_config(tmp_path / "beets", f"similar: {similar}\n")
    run_beet(beetsdir, "similar-import", str(photos))
    run_beet(beetsdir, "similar-featurize")
    return beetsdir


def write_config(beetsdir: Path, extra: str = "") -> Path:
    beetsdir.mkdir(parents=True, exist_ok=True)
    (beetsdir / "config.yaml").write_text(textwrap.dedent(f"""\
        directory: {beetsdir / 'music'}
        library: {beetsdir / 'library.db'}
        plugins: similar
        create_backup_before_migrations: no
        """) + textwrap.dedent(extra))
    return beetsdir
