"""Shared fixtures: generated photos and a beets library with the plugin."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import ClassVar

import pytest
from beets.test.helper import PluginTestHelper

from beetsplug.similar import samples

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


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
