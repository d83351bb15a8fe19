"""The CNN featurizer on real decoded photos, with weights made here."""

from __future__ import annotations

import numpy as np
import pytest

from beetsplug.similar import samples
from beetsplug.similar.features.extractor import (
    BACKBONES,
    FeatureConfigError,
    FeatureExtractor,
    check_settings,
    model_key,
)
from beetsplug.similar.features.pipeline import featurize
from beetsplug.similar.imaging.decode import load_for_model


@pytest.fixture(scope="module")
def mobilenet():
    return FeatureExtractor("mobilenet_v3_small", 1, "none")


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("feat")
    base = samples.scene(7, (640, 480))
    other = samples.scene(8, (640, 480))
    return {
        "base": samples.save_photo(base, str(folder / "base.jpg"), seed=1),
        "reencoded": samples.save_photo(base, str(folder / "re.jpg"), seed=1, quality=60),
        "resized": samples.save_photo(samples.variant(base, "resized"), str(folder / "small.png"), seed=1),
        "other": samples.save_photo(other, str(folder / "other.jpg"), seed=2),
    }


def vec(extractor, path):
    return extractor.extract(load_for_model(path, extractor.size)[None])[0]


def test_shape_and_determinism(mobilenet, photo_files):
    a = vec(mobilenet, photo_files["base"])
    assert a.shape == (576,) and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.abs(a).sum() > 0
    # Rebuilt with the same seeded weights: the same vector.
    again = FeatureExtractor("mobilenet_v3_small", 1, "none")
    np.testing.assert_allclose(vec(again, photo_files["base"]), a, rtol=1e-5, atol=1e-6)


def test_identical_images_identical_vectors(mobilenet, photo_files, tmp_path):
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(open(photo_files["base"], "rb").read())
    np.testing.assert_array_equal(vec(mobilenet, str(copy)), vec(mobilenet, photo_files["base"]))


@pytest.mark.parametrize("name,depth", [("mobilenet_v3_small", 1), ("mobilenet_v3_small", 2),
                                        ("xception", 1)])
def test_near_duplicates_closer_than_other_photo(name, depth, photo_files):
    ex = FeatureExtractor(name, depth, "none")
    v = {k: vec(ex, p) for k, p in photo_files.items()}
    d = lambda a, b: float(np.linalg.norm(v[a] - v[b]))
    assert d("base", "reencoded") < d("base", "other")
    assert d("base", "resized") < d("base", "other")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_documented_layer_exists_with_its_size(name):
    import keras

    bb = BACKBONES[name]
    base = getattr(keras.applications, bb.constructor)(
        include_top=False, weights=None, input_shape=(bb.input_size, bb.input_size, 3))
    for depth, (layer, dim) in enumerate(zip(bb.layers, bb.dims), start=1):
        out = base.output if layer is None else base.get_layer(layer).output
        assert out.shape[-1] == dim, (name, depth)
    # Deeper settings come from layers at or before the shallower ones.
    order = [len(base.layers) if l is None else
             [x.name for x in base.layers].index(l) for l in bb.layers]
    assert order == sorted(order, reverse=True)


def test_weights_from_a_local_file(tmp_path, photo_files, mobilenet):
    """A weights file made here loads, and its content names the vectors."""
    import keras

    keras.utils.set_random_seed(123)
    donor = keras.applications.MobileNetV3Small(include_top=False, weights=None,
                                                input_shape=(224, 224, 3))
    path = str(tmp_path / "mine.weights.h5")
    donor.save_weights(path)
    ex = FeatureExtractor("mobilenet_v3_small", 1, path)
    assert ex.key.startswith("mobilenet_v3_small/top/file-")
    pixels = load_for_model(photo_files["base"], (224, 224))[None].astype("float32")
    expected = keras.layers.GlobalAveragePooling2D()(donor(pixels)).numpy()[0]
    np.testing.assert_allclose(ex.extract(load_for_model(photo_files["base"], (224, 224))[None])[0],
                               expected, rtol=1e-4, atol=1e-5)
    assert ex.key != mobilenet.key


def test_bad_settings_say_what_to_do(tmp_path):
    with pytest.raises(FeatureConfigError, match="choose one of"):
        check_settings("vgg99", 1, "none")
    with pytest.raises(FeatureConfigError, match="depth must be 1 to 7"):
        model_key("xception", 0, "none")
    with pytest.raises(FeatureConfigError, match="has no candidate layer 'block99'; use a depth"):
        model_key("xception", "block99", "none")
    for bad in ([1, 2], 1.5, True, {"a": 1}):  # a YAML list, float, boolean or mapping
        with pytest.raises(FeatureConfigError, match="depth is one number from 1 to 7"):
            model_key("xception", bad, "none")
    assert model_key("xception", "block9_sepconv1_act", "none") == \
        model_key("xception", 5, "none") == "xception/block9_sepconv1_act/none-seed0"
    with pytest.raises(FeatureConfigError, match="no file at"):
        check_settings("xception", 1, str(tmp_path / "missing.h5"))
    junk = tmp_path / "junk.weights.h5"
    junk.write_bytes(b"not weights")
    with pytest.raises(FeatureConfigError, match="cannot load weights") as bad:
        FeatureExtractor("mobilenet_v3_small", 1, str(junk))
    assert "\n" not in str(bad.value)


@pytest.mark.parametrize("other", ["MobileNetV2", "EfficientNetB0"])
def test_weights_of_another_model_are_one_line(tmp_path, other, recwarn):
    """A real weights file of the wrong network (which Keras would load part
    way, with warnings): one line naming the file, and no warnings shown."""
    import keras

    donor = getattr(keras.applications, other)(include_top=False, weights=None,
                                               input_shape=(224, 224, 3))
    path = str(tmp_path / f"{other}.weights.h5")
    donor.save_weights(path)
    recwarn.clear()
    with pytest.raises(FeatureConfigError) as wrong:
        FeatureExtractor("mobilenet_v3_small", 1, path)
    assert not [w for w in recwarn if "keras" in w.filename]
    message = str(wrong.value)
    assert "\n" not in message and len(message) < 400
    assert f"cannot load weights {path} into mobilenet_v3_small" in message
    assert "MobileNetV3Small without its top" in message


def test_pipeline_batches_in_order_and_skips_bad(mobilenet, photo_files, tmp_path):
    bad = samples.write_bad_files(str(tmp_path / "bad"), photo_files["base"])
    items = [("a", photo_files["base"]), ("bad1", bad["truncated"]),
             ("b", photo_files["other"]), ("bad2", bad["empty"]), ("c", photo_files["resized"])]
    errors = []
    batches = list(featurize(items, mobilenet, batch_size=2, threads=2,
                             on_error=lambda k, e: errors.append(k)))
    keys = [k for batch in batches for k, _, _, _ in batch]
    assert keys == ["a", "b", "c"] and sorted(errors) == ["bad1", "bad2"]
    got = {k: v for batch in batches for k, v, _, _ in batch}
    measures = {k: m for batch in batches for k, _, m, _ in batch}
    assert all(0 < m.sharpness < 1 and m.exposure == 1.0 for m in measures.values())
    np.testing.assert_allclose(got["a"], vec(mobilenet, photo_files["base"]), rtol=1e-4, atol=1e-5)


def test_pipeline_reads_each_photo_once_for_the_check_too(mobilenet, photo_files):
    """With ``local``, the decode that makes the vector gives the second
    check's features, the very ones the check computes alone, with the
    file's size and time as they were before the read."""
    import os

    from beetsplug.similar.verify.store import photo_features

    items = [(k, photo_files[k]) for k in ("base", "other")]
    found = {k: f for b in featurize(items, mobilenet, batch_size=2, local=True)
             for k, _, _, f in b}
    plain = {k: f for b in featurize(items, mobilenet, batch_size=2) for k, _, _, f in b}
    assert plain == {"base": None, "other": None}
    for key, path in items:
        local = found[key]
        assert local.features.to_bytes() == photo_features(path).to_bytes()
        assert len(local.features) > 50
        assert (local.size, local.mtime) == (os.stat(path).st_size, os.stat(path).st_mtime)
