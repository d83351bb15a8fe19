"""What a new user reads when something is off: a misspelled setting, a
read-only library, a query that matches nothing, the network's weights
missing on an offline machine, the commands' help; one true line each."""

from __future__ import annotations

import pytest
from beets.exceptions import UserError

from beetsplug.similar import samples

from .conftest import SimilarHelper, run_beet, write_config

MODEL = {"weights": "none", "model": "mobilenet_v3_small"}
SIZE = (96, 64)


def photos_in(folder, count: int) -> None:
    for i in range(count):
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

    def test_the_old_false_positive_rate_is_still_read(self):
        self.config["similar"].set({**MODEL, "false_positive_rate": 0.001})
        with pytest.raises(UserError, match="^the library has no photos yet"):  # past the check
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
    read-only): SQLite reports it as it does for the library's connection
    made read-only here."""

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
        moved = sorted(p.name for p in root.iterdir())
        assert len(moved) == 2 and "duplicates" in moved  # one of the two went
        self.read_only()  # similar-undo checks nothing first: its first write fails
        with pytest.raises(UserError, match="is read-only and similar-undo writes to it"):
            self.run_command("similar-undo")
        assert sorted(p.name for p in root.iterdir()) == moved


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No way to the internet (every request refused by a proxy that is not
    there) and an empty Keras cache."""
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    return tmp_path / "keras" / "models"


class TestOffline(SimilarHelper):
    def test_missing_imagenet_weights_stop_every_command_first(self, offline, capsys,
                                                               monkeypatch):
        import time

        from beetsplug.similar.calibration import job
        from beetsplug.similar.features import extractor

        root = self.photos_dir()
        photos_in(root, 12)
        self.config["similar"].set({"model": "mobilenet_v3_small", "weights": "imagenet"})
        self.run_command("similar-import", str(root))

        def no_work(*args, **kwargs):
            raise AssertionError("decoded or built a network")

        monkeypatch.setattr(job, "open_upright", no_work)
        monkeypatch.setattr(extractor.FeatureExtractor, "_build", no_work)
        name = "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"
        for command in (["similar-dupes"], ["similar-featurize"], ["similar-calibrate"],
                        ["similar-order"], ["similar-featurize", "-d", "2"]):
            capsys.readouterr()
            started = time.perf_counter()
            with pytest.raises(UserError) as said:
                self.run_command(*command)
            assert time.perf_counter() - started < 1.0, command
            message = str(said.value)
            assert message.startswith("similar: the ImageNet weights of mobilenet_v3_small are "
                                      "not on this machine and cannot be downloaded ("), command
            assert message.endswith(
                f"): copy {name} (from https://storage.googleapis.com/tensorflow/"
                f"keras-applications/mobilenet_v3/{name}) into {offline}, or set "
                "similar.weights to a weights file"), command
            assert "\n" not in message and "calibrating" not in capsys.readouterr().out
        # Exact copies need no network.
        self.run_command("similar-dupes", "-e")

    def test_weights_in_the_cache_are_enough(self, offline):
        from beetsplug.similar.features.extractor import BACKBONES, check_available

        offline.mkdir(parents=True)
        bb = BACKBONES["xception"]
        (offline / bb.imagenet.rsplit("/", 1)[1]).write_bytes(b"weights")
        check_available("xception", "imagenet")


@pytest.mark.slow
def test_a_new_user_offline_reads_one_line(tmp_path, offline, monkeypatch):
    """The real command line, a fresh library, the default network."""
    root = tmp_path / "photos"
    root.mkdir()
    photos_in(root, 12)
    beetsdir = write_config(tmp_path / "beets")
    monkeypatch.delenv("KERAS_HOME")  # ~/.keras of the new user's home
    run_beet(beetsdir, "similar-import", str(root))
    proc = run_beet(beetsdir, "similar-dupes", check=False)
    name = "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(
        "error: similar: the ImageNet weights of xception are not on this machine")
    assert f"copy {name} (from https://" in proc.stderr
    assert f"into {beetsdir / '.keras' / 'models'}, or set similar.weights" in proc.stderr


@pytest.mark.slow
def test_the_files_named_are_those_keras_downloads(monkeypatch):
    import keras
    from keras.src.utils import file_utils

    from beetsplug.similar.features.extractor import BACKBONES

    asked = []

    def get_file(fname, origin, **kwargs):
        asked.append((fname, origin))
        raise RuntimeError("offline")

    monkeypatch.setattr(file_utils, "get_file", get_file)
    for bb in BACKBONES.values():
        with pytest.raises(RuntimeError):
            getattr(keras.applications, bb.constructor)(
                include_top=False, weights="imagenet",
                input_shape=(bb.input_size, bb.input_size, 3))
        assert asked[-1] == (bb.imagenet.rsplit("/", 1)[1], bb.imagenet), bb.name


class TestNothingMatches(SimilarHelper):
    def test_every_command_says_the_query_matched_nothing(self, tmp_path):
        root = self.photos_dir()
        photos_in(root, 3)
        self.config["similar"].set({**MODEL, "depth": 1, "threshold": 0.01})
        self.run_command("similar-import", str(root))
        for command in (["similar-ls"], ["similar-featurize"], ["similar-calibrate"],
                        ["similar-dupes"], ["similar-dupes", "-e", "--trash"],
                        ["similar-report", "-o", str(tmp_path / "r.html")],
                        ["similar-order"], ["similar-order", "--fast"],
                        ["similar-order", "--copies", "move"], ["similar-order", "--clear"]):
            with pytest.raises(UserError) as said:
                self.run_command(*command, "year:1990", "camera:Leica")
            assert str(said.value) == "no photos match the query year:1990 camera:Leica", command
        assert not (tmp_path / "r.html").exists()

    def test_an_empty_library_says_how_to_fill_it(self):
        with pytest.raises(UserError, match=r"^the library has no photos yet; add some with "
                                            r"`beet similar-import PATH`$"):
            self.run_command("similar-dupes")

    def test_photos_without_vectors_are_named_by_their_weights_file(self, tmp_path):
        root = self.photos_dir()
        photos_in(root, 3)
        weights = tmp_path / "nsfw.weights.h5"
        weights.write_bytes(b"not read: nothing is featurized")
        self.config["similar"].set({"model": "mobilenet_v3_small", "weights": str(weights),
                                    "depth": 1, "threshold": 0.01})
        self.run_command("similar-import", str(root))
        with pytest.raises(UserError) as said:
            self.run_command("similar-order")
        assert str(said.value) == ("none of the 3 photos matched have vectors of "
                                   "mobilenet_v3_small/top/nsfw.weights.h5; run "
                                   "`beet similar-featurize` first")


def test_a_weights_file_is_shown_by_its_name():
    from beetsplug.similar.features.extractor import described

    assert described("inception_v3/mixed10/file-73e329321425", "/data/nsfw.h5") == \
        "inception_v3/mixed10/nsfw.h5"
    assert described("inception_v3/file-73e329321425", "/data/nsfw.h5") == "inception_v3/nsfw.h5"
    assert described("xception/block14_sepconv2_act/imagenet", "imagenet") == \
        "xception/block14_sepconv2_act/imagenet"


class TestPlurals(SimilarHelper):
    def test_one_group_one_photo(self, capsys):
        root = self.photos_dir()
        photos_in(root, 2)
        (root / "copy.jpg").write_bytes((root / "p00.jpg").read_bytes())
        self.config["similar"].set(MODEL)
        self.run_command("similar-import", str(root))
        out = self.run_output(capsys, "similar-dupes", "-e")
        assert out.splitlines()[-1] == ("1 group (1 exact), 1 photo besides the one kept (*); "
                                        "exact copies: 1 (same bytes as another photo, in "
                                        "1 set)")


class TestHelp(SimilarHelper):
    def test_every_option_of_every_command_says_what_it_does(self):
        from beets import plugins

        from beetsplug.similar import commands

        plugin = next(p for p in plugins.find_plugins() if p.name == "similar")
        for cmd in commands.build(plugin):
            for option in cmd.parser.option_list:
                if option.get_opt_string() == "--help":
                    continue
                assert option.help, (cmd.name, option.get_opt_string())
                for choice in option.choices or ():
                    assert choice in option.help, (cmd.name, option.get_opt_string(), choice)
