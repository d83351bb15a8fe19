"""Ctrl-C at any moment is one line and a non-zero status (issue 27, item
9): while ``beet`` starts (the plugin's imports take seconds, and beets
itself would end silently with status 0), and in any command before the
parts that handle it themselves."""

from __future__ import annotations

import os
import signal
import textwrap
import time

import pytest
from beets.exceptions import UserError

from beetsplug.similar import interrupts
from beetsplug.similar.commands import calibrate, featurize, report
from beetsplug.similar.rename import journal

from .conftest import start_beet, write_config
from .test_run_truth import Library
from .test_safety import make
from .test_undo_resume import cut_off


def ctrl_c_in(real):
    """``real``, at whose call Ctrl-C is pressed."""
    def pressed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # as the terminal sends it
        time.sleep(0.5)  # here comes the KeyboardInterrupt, unless it waits
        return real(*args, **kwargs)
    return pressed


def refused(run_command, *args) -> str:
    """The UserError's line of ``run_command(*args)``; a KeyboardInterrupt
    that gets out is a failure (beets would end silently, with status 0)."""
    try:
        with pytest.raises(UserError) as exc:
            run_command(*args)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C reached beets, which ends silently with status 0")
    return str(exc.value)


class TestEveryCommandSaysItInOneLine(Library):
    @pytest.mark.parametrize("args, where, name", [
        (["similar-calibrate"], (calibrate, "photos"), "similar-calibrate"),
        (["similar-featurize"], (featurize, "photos"), "similar-featurize"),
        (["similar-report", "-o", "r.html"], (report, "select"), "similar-report"),
        (["similar-undo"], (journal, "last_undoable"), "similar-undo"),
        (["similar-order", "--resume"], (journal, "interrupted"), "similar-order --resume"),
    ])
    def test_early_ctrl_c(self, monkeypatch, args, where, name):
        self.prepare(2)
        cut_off(self.lib)  # something to undo or resume
        monkeypatch.setattr(*where, ctrl_c_in(getattr(*where)))
        assert refused(self.run_command, *args) == f"{name} interrupted; nothing was changed"

    def test_ctrl_c_of_an_import_keeps_what_it_did(self, monkeypatch):
        root = self.prepare(2)
        from beetsplug.similar.commands import importing
        monkeypatch.setattr(importing, "import_paths", ctrl_c_in(importing.import_paths))
        assert refused(self.run_command, "similar-import", str(root)) == (
            "similar-import interrupted; the photos imported so far are kept; run it again "
            "to finish")


def test_ctrl_c_while_beet_starts(capsys):
    """Until the command starts, Ctrl-C in beets' command line ends it in
    one line with status 1; elsewhere (an import in a script) it is the
    usual KeyboardInterrupt, and from the command on too."""
    stub = {"__name__": "beets.ui", "signal": signal}
    exec("def _raw_main():\n    signal.raise_signal(signal.SIGINT)\n", stub)  # noqa: S102
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    interrupts.starting()
    try:
        with pytest.raises(SystemExit) as exc:
            stub["_raw_main"]()
        assert exc.value.code == 1
        assert capsys.readouterr().err == (
            "error: interrupted before the command started; nothing was changed\n")
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    finally:
        interrupts.started()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# beet, telling when the plugin starts to load (``interrupts`` is its first import).
WATCHED_BEET = textwrap.dedent("""\
    import os, sys, threading, time
    def watch():
        while "beetsplug.similar.interrupts" not in sys.modules:
            time.sleep(0.001)
        open(os.environ["STARTED"], "w").close()
    threading.Thread(target=watch, daemon=True).start()
    from beets.ui import main
    main(sys.argv[1:])
    """)


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.05, 0.5])
@pytest.mark.parametrize("args", ["similar-calibrate", "similar-featurize", "similar-dupes",
                                  "similar-report -o r.html", "similar-undo",
                                  "similar-order --resume"])
def test_ctrl_c_early_is_one_line_and_an_error(tmp_path, args, delay):
    root = tmp_path / "pics"
    root.mkdir()
    make(root, "a.jpg", 1)
    beetsdir = write_config(tmp_path / "beets", "similar: {weights: none, model: "
                                                "mobilenet_v3_small}\n")
    script = tmp_path / "beet.py"
    script.write_text(WATCHED_BEET)
    proc = start_beet(beetsdir, script, *args.split(), moment=tmp_path / "started",
                      cwd=tmp_path)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "interrupted" in last and "nothing was changed" in last
