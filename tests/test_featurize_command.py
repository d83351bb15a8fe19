"""`beet similar-featurize` against a library: incremental, per model, on import."""

from __future__ import annotations

import os

import numpy as np
import pytest
from beets.exceptions import UserError

from beetsplug.similar import SimilarPlugin, samples
from beetsplug.similar.features.extractor import FeatureExtractor
from beetsplug.similar.library import vectors
from beetsplug.similar.library.photos import photos

from .conftest import SimilarHelper, copy_tree

MODEL = "mobilenet_v3_small/top/none-seed0"


class TestFeaturize(SimilarHelper):
    def setup_photos(self, scenes_dir, bad=True):
        root = copy_tree(scenes_dir[0], self.photos_dir())
        if bad:
            samples.write_bad_files(str(root / "bad"), str(next(root.glob("*.jpg"))))
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "depth": 1})
        return root

    def test_one_vector_per_valid_photo_then_no_work(self, scenes_dir, capsys):
        root = self.setup_photos(scenes_dir, bad=False)
        self.run_command("similar-import", str(root))
        # A file that breaks after import is reported and skipped.
        victim = photos(self.lib, ["origname:photo_0000.jpg"]).get()
        data = open(victim.filepath, "rb").read()
        with open(victim.filepath, "wb") as f:
            f.write(data[: len(data) // 3])
        out = self.run_output(capsys, "similar-featurize")
        assert "featurized 35 with " + MODEL in out and "1 skipped" in out
        ids, matrix = vectors.load(self.lib, MODEL, [p.id for p in photos(self.lib)])
        assert len(ids) == 35 and matrix.shape == (35, 576)
        assert victim.id not in ids
        with self.lib.transaction() as tx:
            dtype = tx.query("SELECT DISTINCT dtype FROM similar_features")
        assert [r[0] for r in dtype] == ["float16"]

        out = self.run_output(capsys, "similar-featurize")
        assert "featurized 0" in out and "35 already done" in out

    def test_model_change_redoes_all_and_models_coexist(self, scenes_dir, capsys):
        root = self.setup_photos(scenes_dir, bad=False)
        self.run_command("similar-import", str(root))
        self.run_command("similar-featurize", "year:2019")
        out = self.run_output(capsys, "similar-featurize", "--depth", "2")
        assert "featurized 36 with mobilenet_v3_small/expanded_conv_10_add/none-seed0" in out
        assert vectors.models(self.lib) == {MODEL: 36, "mobilenet_v3_small/expanded_conv_10_add/none-seed0": 36}
        out = self.run_output(capsys, "similar-featurize", "--force", "origname:photo_000")
        assert "featurized 10 " in out

    def test_query_subset_and_changed_file_redone(self, scenes_dir, capsys):
        root = self.setup_photos(scenes_dir, bad=False)
        self.run_command("similar-import", str(root))
        out = self.run_output(capsys, "similar-featurize", "origname:photo_001")
        assert "featurized 10 " in out
        target = photos(self.lib, ["origname:photo_0010.jpg"]).get()
        before = vectors.load(self.lib, MODEL, [target.id])[1][0]
        samples.save_photo(samples.scene(999, (320, 240)), os.fsdecode(target.path), seed=0)
        out = self.run_output(capsys, "similar-featurize", "origname:photo_001")
        assert "featurized 1 " in out and "9 already done" in out
        after = vectors.load(self.lib, MODEL, [target.id])[1][0]
        assert np.linalg.norm(before) > 0
        assert np.linalg.norm(before - after) > 0.05 * np.linalg.norm(before)
        assert photos(self.lib, ["origname:photo_0010.jpg"]).get().hash != target.hash

    def test_auto_featurize_on_import(self, scenes_dir, capsys, monkeypatch):
        root = self.setup_photos(scenes_dir)
        self.config["similar"]["auto"] = True
        built = []
        real_init = FeatureExtractor.__init__

        def counted(extractor, *args, **kwargs):
            built.append(args)
            real_init(extractor, *args, **kwargs)

        SimilarPlugin.extractors.clear()
        monkeypatch.setattr(FeatureExtractor, "__init__", counted)
        out = self.run_output(capsys, "similar-import", str(root))
        assert "imported 36 new" in out and "featurized 36 with " + MODEL in out
        assert vectors.models(self.lib) == {MODEL: 36}
        # One model load for the whole import.
        assert len(built) == 1 and list(SimilarPlugin.extractors) == [MODEL]

    def test_vanished_file_reported_and_run_goes_on(self, scenes_dir, caplog):
        root = self.setup_photos(scenes_dir, bad=False)
        self.run_command("similar-import", str(root))
        gone = root / "photo_0003.jpg"
        gone.unlink()
        self.run_command("similar-featurize")
        assert any(str(gone) in r.getMessage() and "vanished" in r.getMessage()
                   for r in caplog.records)
        assert vectors.models(self.lib) == {MODEL: 35}

    def test_bad_config_is_a_user_error(self):
        samples.save_photo(samples.scene(1, (64, 48)), str(self.photos_dir() / "a.jpg"), 1)
        self.run_command("similar-import", str(self.photos_dir()))
        self.config["similar"]["model"] = "alexnet"
        with pytest.raises(UserError, match="unknown model 'alexnet'"):
            self.run_command("similar-featurize")
        self.config["similar"]["model"] = "xception"
        self.config["similar"]["weights"] = "/nowhere/w.h5"
        with pytest.raises(UserError, match="no file at"):
            self.run_command("similar-featurize")


class TestInterrupt(SimilarHelper):
    def test_ctrl_c_keeps_what_was_stored(self, scenes_dir, monkeypatch):
        """Ctrl-C on the third batch: the first two batches stay stored."""
        from beetsplug.similar.features.extractor import FeatureExtractor

        root = copy_tree(scenes_dir[0], self.photos_dir())
        self.config["similar"].set({"weights": "none", "model": "mobilenet_v3_small",
                                    "depth": 1, "batch_size": 8})
        self.run_command("similar-import", str(root))
        real_extract, calls = FeatureExtractor.extract, []

        def extract(self_, images):
            if images.any():  # a real batch, not the warm-up of a new network
                calls.append(len(images))
            if len(calls) == 3:
                raise KeyboardInterrupt
            return real_extract(self_, images)

        monkeypatch.setattr(FeatureExtractor, "extract", extract)
        with pytest.raises(UserError, match="interrupted; the vectors already stored are kept"):
            self.run_command("similar-featurize")
        assert vectors.models(self.lib) == {MODEL: 16}
        monkeypatch.setattr(FeatureExtractor, "extract", real_extract)
        self.run_command("similar-featurize")
        assert vectors.models(self.lib) == {MODEL: 36}


def test_progress_draws_on_a_terminal_only():
    import io

    from beetsplug.similar.progress import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = Progress(4, "featurize", stream)
        for _ in range(4):
            bar.update()
        bar.close()
    assert "featurize [" in tty.getvalue() and "4/4" in tty.getvalue() and "ETA" in tty.getvalue()
    assert pipe.getvalue() == ""  # a minute of work says nothing in a log


def test_long_work_writes_a_plain_line_a_minute_to_a_log():
    import io

    from beetsplug.similar.progress import Progress

    now, log = [0.0], io.StringIO()
    bar = Progress(1000, "calibrate", log, clock=lambda: now[0])
    for _ in range(999):
        now[0] += 0.25  # 4 photos a second
        bar.update()
    bar.close()
    assert log.getvalue().splitlines() == [
        f"calibrate: {n} of 1000, 4.0/s, {(1000 - n) // 4 // 60}:{(1000 - n) // 4 % 60:02d} left"
        for n in (240, 480, 720, 960)]
