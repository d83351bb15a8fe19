"""A run in progress is known as live (issue 27, item 4): the process
walking it holds a lock beside the library database, so other commands
say "run N is in progress (pid P)" and refuse to change files, and a
locked database is one line, never a traceback."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import sqlite3
import textwrap
import time

import pytest
from beets.exceptions import UserError

from beetsplug.similar.rename import live

from .conftest import featurized_library, run_beet, start_beet, write_config
from .test_order_command import tree_state
from .test_run_truth import Library, hidden
from .test_safety import SLOW_BEET, assert_consistent, make
from .test_undo_resume import cut_off


def hold_as_another_process(lib, pid: int, run_id: int | None) -> int:
    """Take the lock as another process would (a lock on a file description
    of its own, which this process does not know as its own)."""
    fd = os.open(live.lock_file(lib), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, f"{pid} {run_id if run_id is not None else '-'}\n".encode())
    return fd


class TestALiveRunIsKnown(Library):
    def test_commands_refuse_or_say_while_a_run_is_live(self, capsys, caplog):
        root = self.prepare(3)
        run_id = cut_off(self.lib)
        fd = hold_as_another_process(self.lib, 4242, run_id)
        try:
            assert live.holder(self.lib) == live.Holder(4242, run_id)
            said = f"run {run_id} is in progress (pid 4242); wait for it to end"
            for args in (["similar-order", "--resume"], ["similar-undo"], ["similar-order"],
                         ["similar-import", str(root)], ["similar-dupes", "-e", "--move"]):
                with pytest.raises(UserError) as exc:
                    self.run_command(*args)
                assert str(exc.value) == said
            caplog.clear()
            self.run_output(capsys, "similar-ls")
            assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] \
                == [said]
            out = self.run_output(capsys, "similar-undo", "--list")
            assert f"run {run_id}: " in out and "order, 3 photos, in progress (pid 4242)" in out
        finally:
            os.close(fd)  # the process ends: the lock is gone with it
        assert live.holder(self.lib) is None
        with pytest.raises(UserError, match=f"rename run {run_id} was interrupted"):
            self.run_command("similar-order")
        out = self.run_output(capsys, "similar-order", "--resume")
        assert f"resumed run {run_id}: renamed 2 photos" in out
        assert_consistent(self.lib, root)

    def test_a_process_without_a_run_yet(self):
        self.prepare(2)
        fd = hold_as_another_process(self.lib, 77, None)
        try:
            with pytest.raises(UserError, match=r"^another beet process \(pid 77\) is changing "
                                                r"files; wait for it to end$"):
                self.run_command("similar-order", "--clear")
        finally:
            os.close(fd)

    def test_the_lock_is_this_process_own_while_it_walks(self):
        self.prepare(2)
        seen = []
        with live.holding(self.lib, 5):
            seen.append(live.holder(self.lib))  # this process: not "another"
            with live.holding(self.lib):  # again, in the same process: no wait
                seen.append(live.holder(self.lib))
        assert seen == [None, None]
        with open(live.lock_file(self.lib), "rb") as f:
            assert f.read().split() == [str(os.getpid()).encode(), b"5"]
        fd = hold_as_another_process(self.lib, 1, None)  # free again: others can take it
        os.close(fd)

    def test_a_locked_database_is_one_line(self, capsys):
        root = self.prepare(2)
        self.order()
        self.lib.timeout = 0.2
        self.lib._close()  # its next connection waits that long
        other = sqlite3.connect(os.fsdecode(self.lib.path))
        other.execute("BEGIN EXCLUSIVE")  # another program writing, for long
        try:
            with pytest.raises(UserError) as exc:
                self.run_command("similar-undo")
        finally:
            other.rollback()
            other.close()
        assert str(exc.value) == (
            "the library database is locked by another program (beets waited 0.2 seconds); "
            "nothing is lost: try again when it is done, or raise `timeout` in your beets "
            "config")
        self.lib.timeout = 5.0
        self.lib._close()
        self.run_command("similar-undo")
        assert sorted(os.listdir(root)) == ["p_00.jpg", "p_01.jpg"]

    def test_a_database_held_by_a_live_run_names_the_run(self):
        """The attack's case: a trash run holds the database while it sends
        50 photos between two commits; on a slow disk a command started
        meanwhile waits longer than beets' timeout. It names the run, not
        "another program"."""
        root = self.prepare(2)
        run_id = cut_off(self.lib)
        self.lib.timeout = 0.2
        self.lib._close()
        fd = hold_as_another_process(self.lib, 4242, run_id)
        walker = sqlite3.connect(os.fsdecode(self.lib.path))
        walker.execute("BEGIN IMMEDIATE")  # the walk's transaction, written to
        try:
            for args in (["similar-order", "--resume"], ["similar-featurize"],
                         ["similar-import", str(root)], ["similar-dupes", "-e", "--trash"]):
                with pytest.raises(UserError) as exc:
                    self.run_command(*args)
                assert str(exc.value) == f"run {run_id} is in progress (pid 4242); wait for it to end"
        finally:
            walker.rollback()
            walker.close()
            os.close(fd)


# beet whose first rename waits until the test says GO (after the second
# command has had its say).
WAITING_BEET = textwrap.dedent("""\
    import os, sys, time
    real_link = os.link
    def link(src, dst, *args, **kwargs):
        open(os.environ["STARTED"], "w").close()
        deadline = time.monotonic() + 300
        while not os.path.exists(os.environ["GO"]) and time.monotonic() < deadline:
            time.sleep(0.01)
        return real_link(src, dst, *args, **kwargs)
    os.link = link
    from beets.ui import main
    main(sys.argv[1:])
    """)


@pytest.mark.slow
@pytest.mark.parametrize("second", ["similar-order --resume", "similar-undo",
                                    "similar-order"])
def test_a_second_walker_is_refused_while_the_first_runs(tmp_path, second):
    """The attack's case: a command started while similar-order renames in
    another process. It refuses, naming the live run; the first finishes
    alone; nothing is lost and nothing is left under a temporary name."""
    root = tmp_path / "pics"
    root.mkdir()
    for i in range(24):
        make(root, f"p_{i:02d}.jpg", 60 + i)
    beetsdir = featurized_library(tmp_path, root, "{weights: none, model: mobilenet_v3_small}")
    original = tree_state(root)
    (tmp_path / "waiting.py").write_text(WAITING_BEET)
    go = tmp_path / "go"
    first = start_beet(beetsdir, tmp_path / "waiting.py", "similar-order",
                       moment=tmp_path / "started", GO=str(go))
    other = run_beet(beetsdir, *second.split(), check=False)
    go.touch()
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert other.returncode == 1
    assert "Traceback" not in other.stderr and "database is locked" not in other.stderr
    assert other.stderr.strip().splitlines()[-1] == (
        f"error: run 1 is in progress (pid {first.pid}); wait for it to end")
    assert "renamed 24 photos (run 1)" in out
    state = tree_state(root)
    assert sorted(state.values()) == sorted(original.values()) and not hidden(root)
    assert "put back 24 photos" in run_beet(beetsdir, "similar-undo").stdout
    assert tree_state(root) == original


@pytest.mark.slow
def test_kill_9_releases_the_lock(tmp_path):
    """A walker killed with -9 holds nothing: its run reads as interrupted,
    and --resume finishes it."""
    root = tmp_path / "pics"
    root.mkdir()
    for i in range(12):
        make(root, f"p_{i:02d}.jpg", 80 + i)
    beetsdir = featurized_library(tmp_path, root, "{weights: none, model: mobilenet_v3_small}")
    original = tree_state(root)
    (tmp_path / "slow.py").write_text(SLOW_BEET)
    proc = start_beet(beetsdir, tmp_path / "slow.py", "similar-order",
                      moment=tmp_path / "started")
    time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    refused = run_beet(beetsdir, "similar-order", check=False)
    assert refused.stderr.strip().splitlines()[-1] == (
        "error: rename run 1 was interrupted; run `beet similar-order --resume` to finish it "
        "or `beet similar-undo` to roll it back first")
    run_beet(beetsdir, "similar-order", "--resume")
    assert sorted(tree_state(root).values()) == sorted(original.values()) and not hidden(root)


# beet whose second send to the trash waits until the test says GO: the
# trash walk holds the database meanwhile (the first photo's rows are
# written in it), as it does on a slow disk.
WAITING_TRASH = textwrap.dedent("""\
    import os, sys, time
    import send2trash
    real = send2trash.send2trash
    sent = []
    def waiting(path):
        sent.append(path)
        if len(sent) == 1:
            return real(path)
        open(os.environ["STARTED"], "w").close()
        deadline = time.monotonic() + 300
        while not os.path.exists(os.environ["GO"]) and time.monotonic() < deadline:
            time.sleep(0.01)
        return real(path)
    send2trash.send2trash = waiting
    from beets.ui import main
    main(sys.argv[1:])
    """)


@pytest.mark.slow
def test_a_command_kept_waiting_by_a_trash_run_names_it(tmp_path):
    """The attack's case, with real processes: `similar-order --resume`
    started while `similar-dupes --trash` sends files waits for the
    database longer than beets' timeout, and says which run holds it."""
    root = tmp_path / "pics"
    root.mkdir()
    for i in range(3):
        make(root, f"p_{i}.jpg", 90 + i)
        shutil.copyfile(root / f"p_{i}.jpg", root / f"p_{i} (1).jpg")
    beetsdir = write_config(tmp_path / "beets", "timeout: 0.5\nsimilar: {weights: none, "
                                                "model: mobilenet_v3_small}\n")
    run_beet(beetsdir, "similar-import", str(root))
    (tmp_path / "waiting.py").write_text(WAITING_TRASH)
    go = tmp_path / "go"
    first = start_beet(beetsdir, tmp_path / "waiting.py", "similar-dupes", "-e", "--trash",
                       moment=tmp_path / "started", GO=str(go),
                       XDG_DATA_HOME=str(beetsdir / "data"))
    other = run_beet(beetsdir, "similar-order", "--resume", check=False)
    go.touch()
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert "sent 3 photos (3 files" in out
    assert other.returncode == 1 and "Traceback" not in other.stderr
    assert other.stderr.strip().splitlines() == [
        f"error: run 1 is in progress (pid {first.pid}); wait for it to end"]
    assert sorted(os.listdir(root)) == ["p_0.jpg", "p_1.jpg", "p_2.jpg"]
