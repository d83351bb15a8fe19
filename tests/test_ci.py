"""`.ci/run` fails when a test fails, when none ran and when any was skipped.

Run on a copy of the script in a scratch project: a stand-in ``python3``
makes its ``.venv`` from this interpreter (no install), so the real pytest
runs the scratch tests and the real ``.ci/no_skips.py`` reads the report.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CI = Path(__file__).resolve().parent.parent / ".ci"

PYTHON3 = textwrap.dedent(f"""\
    #!/bin/sh
    # python3 -m venv DIR: DIR/bin/python is the test's interpreter; pip does nothing.
    mkdir -p "$3/bin"
    ln -s {sys.executable} "$3/bin/python"
    printf '#!/bin/sh\\nexit 0\\n' > "$3/bin/pip" && chmod +x "$3/bin/pip"
    """)


def ci_run(tmp_path: Path, tests: str) -> subprocess.CompletedProcess:
    project = tmp_path / "project"
    shutil.copytree(CI, project / ".ci")
    (project / "tests").mkdir()
    (project / "tests" / "test_some.py").write_text(textwrap.dedent(tests))
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    # The tiers' option, as tests/conftest.py adds it (a stand-in).
    (project / "tests" / "conftest.py").write_text(
        'def pytest_addoption(parser):\n    parser.addoption("--full", action="store_true")\n')
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "python3").write_text(PYTHON3)
    (shims / "python3").chmod(0o755)
    for tool in ("chromium", "chromedriver", "node", "npm"):  # present: no apt-get
        (shims / tool).write_text("#!/bin/sh\n")
        (shims / tool).chmod(0o755)
    env = dict(os.environ, PATH=f"{shims}:{os.environ['PATH']}")
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(["bash", str(project / ".ci" / "run")], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not (shutil.which("bash") and shutil.which("timeout")),
                    reason="needs bash and coreutils' timeout")
class TestCiRun:
    def test_passes_when_every_test_ran(self, tmp_path):
        proc = ci_run(tmp_path, "def test_a():\n    pass\n")
        assert proc.returncode == 0, proc.stderr
        assert "CI: 1 tests ran, none skipped" in proc.stdout

    def test_a_skipped_test_fails_the_run_with_its_reason(self, tmp_path):
        proc = ci_run(tmp_path, """\
            import pytest

            def test_a():
                pass

            def test_b():
                pytest.skip("needs npm and node")

            @pytest.mark.xfail(reason="known")
            def test_c():
                assert False
            """)
        assert proc.returncode == 1
        assert "SKIPPED [1]" in proc.stdout  # pytest's own summary, with the reason
        assert "1 of 3 tests skipped" in proc.stderr
        assert "test_some::test_b: needs npm and node" in proc.stderr

    def test_no_tests_fails_the_run(self, tmp_path):
        proc = ci_run(tmp_path, "# nothing here\n")
        assert proc.returncode == 5  # pytest's "no tests collected", not hidden

    def test_a_failing_test_fails_the_run(self, tmp_path):
        proc = ci_run(tmp_path, "def test_a():\n    assert False\n")
        assert proc.returncode == 1 and "CI:" not in proc.stdout + proc.stderr
