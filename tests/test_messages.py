"""What a new user reads when something is off: a misspelled setting, a
read-only library, a query that matches nothing, the network's weights
missing on an offline machine, the commands' help; one true line each."""

from __future__ import annotations

import pytest
from beets.exceptions import UserError

from beetsplug.similar import samples

from .conftest import SimilarHelper

MODEL = {"weights": "none", "model": "mobilenet_v3_small"}
SIZE = (96, 64)


def photos_in(folder, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        samples.save_photo(samples.scene(i, SIZE), str(folder / f"p{i:02d}.jpg"), seed=i)


class TestSettings(SimilarHelper):
    def test_a_misspelled_key_stops_every_command_naming_the_closest(self):
        self.config["similar"].set({**MODEL, "wieghts": "/data/my.weights.h5"})
        for command in ("similar-ls", "similar-featurize", "similar-dupes"):
            with pytest.raises(UserError) as said:
                self.run_command(command)
            assert str(said.value) == (
                "similar.wieghts is not a setting of the similar plugin; did you mean "
                "weights? (correct or remove it in your config.yaml)")

    def test_a_key_like_no_setting_says_where_the_settings_are(self):
        self.config["similar"].set({**MODEL, "colour": "red"})
        with pytest.raises(UserError, match=r"similar.colour is not a setting of the similar "
                                            r"plugin; see `beet config -d` for the settings"):
            self.run_command("similar-ls")

    def test_the_old_false_positive_rate_is_still_read(self, capsys):
        self.config["similar"].set({**MODEL, "false_positive_rate": 0.001})
        self.run_command("similar-ls")

    def test_a_list_for_depth_is_one_line(self):
        photos_in(self.photos_dir(), 1)
        self.config["similar"].set({**MODEL, "depth": [1, 2]})
        self.run_command("similar-import", str(self.photos_dir()))
        with pytest.raises(UserError, match=r"^similar: depth is one number from 1 to 7, "
                                            r"auto or a layer's name, not \[1, 2\]$"):
            self.run_command("similar-featurize")


class TestReadOnlyLibrary(SimilarHelper):
    """A library database that cannot be written (its file or folder
    read-only), as SQLite reports it to every connection of this process."""

    def read_only(self) -> None:
        self.lib._connection().execute("PRAGMA query_only = 1")

    def test_commands_that_write_stop_first_in_one_line(self, capsys):
        root = self.photos_dir()
        photos_in(root, 2)
        (root / "copy.jpg").write_bytes((root / "p00.jpg").read_bytes())
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        self.read_only()
        path = self.lib.path
        for args, name in ((["similar-dupes", "-e", "--trash"], "similar-dupes --trash"),
                           (["similar-dupes", "-e", "--tag"], "similar-dupes --tag"),
                           (["similar-order"], "similar-order"),
                           (["similar-order", "--copies", "move"], "similar-order"),
                           (["similar-import", str(root)], "similar-import"),
                           (["similar-featurize"], "similar-featurize")):
            with pytest.raises(UserError) as said:
                self.run_command(*args)
            assert str(said.value) == (f"the library database {path} is read-only and {name} "
                                       "writes to it; make the file and its folder writable")
        assert sorted(p.name for p in root.iterdir()) == ["copy.jpg", "p00.jpg", "p01.jpg"]
        # Reading commands still work.
        out = self.run_output(capsys, "similar-dupes", "-e")
        assert "group 1: exact, 2 photos" in out

    def test_a_write_deep_in_a_command_is_one_line_too(self, capsys):
        root = self.photos_dir()
        photos_in(root, 1)
        (root / "copy.jpg").write_bytes((root / "p00.jpg").read_bytes())
        self.run_command("similar-import", str(root))
        self.run_command("similar-dupes", "-e", "--move")
        self.read_only()  # similar-undo checks nothing first: its first write fails
        with pytest.raises(UserError, match="is read-only and similar-undo writes to it"):
            self.run_command("similar-undo")
        assert sorted(p.name for p in root.iterdir()) == ["duplicates", "p00.jpg"]
