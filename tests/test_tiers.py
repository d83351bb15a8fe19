"""The two tiers of tests (tests/conftest.py): plain `pytest` leaves the slow
tests out and says so; `--full` and `-m slow` run them; a test that needs
the real shared photos, when they are absent, is named at the end.

Run on a scratch project that uses the real conftest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

CONFTEST = Path(__file__).with_name("conftest.py")

TESTS = textwrap.dedent("""\
    import pytest
    from .conftest import shared_photos

    def test_quick():
        pass

    @pytest.mark.slow
    def test_slow():
        pass

    @pytest.mark.slow
    def test_real_photos():
        assert shared_photos("unrelated").is_dir()
    """)
QUICK_WITH_PHOTOS = textwrap.dedent("""\
    from .conftest import shared_photos

    def test_quick_with_real_photos():
        shared_photos("unrelated")
    """)


def run(tmp_path: Path, *args: str, photos: Path) -> subprocess.CompletedProcess:
    project = tmp_path / "project"
    if not project.exists():
        (project / "tests").mkdir(parents=True)
        shutil.copy(CONFTEST, project / "tests" / "conftest.py")
        (project / "tests" / "__init__.py").write_text("")
        (project / "tests" / "test_some.py").write_text(TESTS)
        (project / "pyproject.toml").write_text(
            '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
            'markers = ["slow: the full tier"]\n')
    env = dict(os.environ, SIMILAR_SHARED_PHOTOS=str(photos))
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=project, env=env, capture_output=True, text=True, timeout=120)


def test_the_quick_tier_leaves_the_slow_tests_out_and_says_so(tmp_path):
    proc = run(tmp_path, photos=tmp_path / "none")
    assert proc.returncode == 0, proc.stdout
    assert "1 passed, 2 deselected" in proc.stdout
    assert "quick tier: 2 slow tests not run; `pytest --full` runs every test" in proc.stdout
    assert "missing" not in proc.stdout


def test_full_runs_every_test_and_names_missing_photos_at_the_end(tmp_path):
    proc = run(tmp_path, "--full", "-rs", photos=tmp_path / "none")
    assert "2 passed, 1 skipped" in proc.stdout, proc.stdout
    last = proc.stdout.strip().splitlines()
    assert any(line.startswith(f"missing: the real photos of {tmp_path / 'none' / 'unrelated'};")
               for line in last[-3:]), proc.stdout
    assert "quick tier" not in proc.stdout
    (tmp_path / "photos" / "unrelated").mkdir(parents=True)
    proc = run(tmp_path, "-m", "slow", photos=tmp_path / "photos")
    assert proc.returncode == 0 and "2 passed, 1 deselected" in proc.stdout, proc.stdout
    assert "missing" not in proc.stdout


def test_a_quick_test_cannot_need_the_shared_photos(tmp_path):
    """The quick tier runs in any clone with no skip: a quick test that asks
    for ../shared/photos fails, naming itself, even where they are."""
    (tmp_path / "photos" / "unrelated").mkdir(parents=True)
    run(tmp_path, "--collect-only", photos=tmp_path / "photos")  # makes the project
    (tmp_path / "project" / "tests" / "test_more.py").write_text(QUICK_WITH_PHOTOS)
    proc = run(tmp_path, photos=tmp_path / "photos")
    assert proc.returncode == 1, proc.stdout
    assert "test_quick_with_real_photos needs ../shared/photos: mark it slow" in proc.stdout
