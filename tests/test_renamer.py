"""The rename planner and the no-overwrite step, on real files."""

from __future__ import annotations

import os

import pytest

from beetsplug.similar.rename.planner import RenameError, perform, plan


def touch(path, text):
    path.write_text(text)
    return str(path)


def run(steps):
    for s in steps:
        perform(s.src, s.dst)


def test_swap_and_cycle(tmp_path):
    a, b, c = (touch(tmp_path / n, n) for n in ("a", "b", "c"))
    steps = plan([(1, a, b), (2, b, c), (3, c, a)], "t")
    run(steps)
    assert (tmp_path / "b").read_text() == "a"
    assert (tmp_path / "c").read_text() == "b"
    assert (tmp_path / "a").read_text() == "c"
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "c"]


def test_case_only_rename(tmp_path):
    src = touch(tmp_path / "img.JPG", "x")
    run(plan([(1, src, str(tmp_path / "IMG.jpg"))], "t"))
    assert os.listdir(tmp_path) == ["IMG.jpg"]


def test_outside_file_is_never_taken(tmp_path):
    src = touch(tmp_path / "IMG_1.jpg", "mine")
    touch(tmp_path / "0001-IMG_1.jpg", "someone else's")
    steps = plan([(1, src, str(tmp_path / "0001-IMG_1.jpg"))], "t")
    run(steps)
    assert (tmp_path / "0001-IMG_1.jpg").read_text() == "someone else's"
    assert (tmp_path / "0001-IMG_1.1.jpg").read_text() == "mine"


def test_two_files_wanting_one_name(tmp_path):
    a, b = touch(tmp_path / "a.jpg", "a"), touch(tmp_path / "b.jpg", "b")
    steps = plan([(1, a, str(tmp_path / "x.jpg")), (2, b, str(tmp_path / "x.jpg"))], "t")
    run(steps)
    assert (tmp_path / "x.jpg").read_text() == "a" and (tmp_path / "x.1.jpg").read_text() == "b"


def test_unchanged_names_are_dropped(tmp_path):
    a = touch(tmp_path / "a.jpg", "a")
    assert plan([(1, a, a)], "t") == []


def test_perform_never_overwrites(tmp_path):
    a, b = touch(tmp_path / "a", "a"), touch(tmp_path / "b", "b")
    with pytest.raises(RenameError, match="already exists"):
        perform(a, b)
    assert (tmp_path / "a").read_text() == "a" and (tmp_path / "b").read_text() == "b"


def test_perform_is_idempotent_after_interruption(tmp_path):
    a = touch(tmp_path / "a", "a")
    dst = str(tmp_path / "z")
    # Cut between link and unlink: both names, one file.
    os.link(a, dst)
    assert perform(a, dst) == "done"
    assert os.listdir(tmp_path) == ["z"]
    # Already done: nothing to do, still fine.
    assert perform(a, dst) == "done"
    with pytest.raises(RenameError, match="vanished"):
        perform(str(tmp_path / "gone"), str(tmp_path / "nowhere"))
