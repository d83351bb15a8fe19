"""CNN feature vectors from Keras backbones: the featurizer.

Pure: needs Keras (imported when an extractor is built), not beets.
A vector is the global average of one layer's activations; ``depth``
picks the layer among a backbone's candidates, 1 being the last block and
the higher ones earlier, down to the middle of the network (the table in
README.md lists them). Calibration picks the best one per library.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.request
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Backbone:
    name: str
    constructor: str  # attribute of keras.applications
    input_size: int  # square input side, pixels
    preprocess: str | None  # keras.applications module with preprocess_input;
    # None: the model rescales 0..255 input itself
    layers: tuple[str | None, ...]  # candidate layers, depth 1 (last block)
    # and down to the middle of the network; None: the model's output
    dims: tuple[int, ...]  # vector length per depth
    imagenet: str  # the address of its ImageNet weights file without the top (Keras')

    def layer(self, depth: int) -> str:
        """The name vectors of ``depth`` are stored under (``top``: output)."""
        return self.layers[depth - 1] or "top"

    def depth(self, choice: int | str) -> int:
        """The depth of a depth number or a candidate layer's name."""
        names = [self.layer(d) for d in range(1, len(self.layers) + 1)]
        if isinstance(choice, str) and not choice.isdigit():
            if choice in names:
                return names.index(choice) + 1
            raise FeatureConfigError(
                f"{self.name} has no candidate layer {choice!r}; use a depth from 1 to "
                f"{len(names)} or one of {', '.join(names)}")
        if isinstance(choice, bool) or not isinstance(choice, int | str):
            raise FeatureConfigError(
                f"depth is one number from 1 to {len(names)}, auto or a layer's name, "
                f"not {choice!r}")
        depth = int(choice)
        if not 1 <= depth <= len(names):
            raise FeatureConfigError(
                f"{self.name}: depth must be 1 to {len(names)} (or auto), not {depth}")
        return depth


_KERAS = "https://storage.googleapis.com/tensorflow/keras-applications/"

BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in (
        # Xception's residual stream is read where the next block starts
        # (its sepconv1_act is the ReLU of the stream).
        Backbone("xception", "Xception", 299, "xception",
                 ("block14_sepconv2_act", "block14_sepconv1_act", "block13_sepconv1_act",
                  "block11_sepconv1_act", "block9_sepconv1_act", "block7_sepconv1_act",
                  "block5_sepconv1_act"),
                 (2048, 1536, 728, 728, 728, 728, 728),
                 _KERAS + "xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        Backbone("mobilenet_v3_small", "MobileNetV3Small", 224, None,
                 (None, "expanded_conv_10_add", "expanded_conv_9_add", "expanded_conv_7_add",
                  "expanded_conv_5_add", "expanded_conv_4_add", "expanded_conv_2_add"),
                 (576, 96, 96, 48, 40, 40, 24),
                 _KERAS + "mobilenet_v3/weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"),
        Backbone("mobilenet_v2", "MobileNetV2", 224, "mobilenet_v2",
                 ("out_relu", "block_15_add", "block_14_add", "block_12_add", "block_11_add",
                  "block_9_add", "block_7_add"),
                 (1280, 160, 160, 96, 96, 64, 64),
                 _KERAS + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_"
                 "1.0_224_no_top.h5"),
        Backbone("efficientnet_b0", "EfficientNetB0", 224, None,
                 ("top_activation", "block7a_project_bn", "block6d_add", "block6b_add",
                  "block5c_add", "block5b_add", "block4c_add"),
                 (1280, 320, 192, 192, 112, 112, 80),
                 "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5"),
        Backbone("resnet50", "ResNet50", 224, "resnet50",
                 ("conv5_block3_out", "conv5_block2_out", "conv5_block1_out",
                  "conv4_block6_out", "conv4_block4_out", "conv4_block2_out",
                  "conv3_block4_out"),
                 (2048, 2048, 2048, 1024, 1024, 1024, 512),
                 _KERAS + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        Backbone("inception_v3", "InceptionV3", 299, "inception_v3",
                 ("mixed10", "mixed9", "mixed8", "mixed7", "mixed6", "mixed5", "mixed4"),
                 (2048, 2048, 1280, 768, 768, 768, 768),
                 _KERAS + "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        Backbone("vgg16", "VGG16", 224, "vgg16",
                 ("block5_conv3", "block5_conv2", "block5_conv1", "block4_conv3",
                  "block4_conv2", "block4_conv1", "block3_conv3"),
                 (512, 512, 512, 512, 512, 512, 256),
                 _KERAS + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
        Backbone("vgg19", "VGG19", 224, "vgg19",
                 ("block5_conv4", "block5_conv3", "block5_conv2", "block5_conv1",
                  "block4_conv4", "block4_conv3", "block4_conv2"),
                 (512, 512, 512, 512, 512, 512, 512),
                 _KERAS + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    )
}

RANDOM_WEIGHTS_SEED = 0

# Vectors were keyed by depth number before the candidate layers grew:
# {backbone: layer of old depths 1..4}, to rename stored keys.
OLD_DEPTH_LAYERS = {
    "xception": ("block14_sepconv2_act", "block14_sepconv1_act", "block13_sepconv2_bn",
                 "block12_sepconv3_bn"),
    "mobilenet_v3_small": ("top", "expanded_conv_10_add", "expanded_conv_7_add",
                           "expanded_conv_5_add"),
    "efficientnet_b0": ("top_activation", "block7a_project_bn", "block6d_add", "block5c_add"),
    "resnet50": ("conv5_block3_out", "conv5_block2_out", "conv4_block6_out",
                 "conv3_block4_out"),
}


class FeatureConfigError(ValueError):
    """A bad backbone, depth or weights setting; the message says what to do."""


def weights_id(weights: str) -> str:
    """A short, stable name for a weights setting, stored with every vector.

    A weights file is named by its content, so replacing the file
    re-featurizes and renaming it does not.
    """
    if weights in ("imagenet", "none"):
        return weights if weights == "imagenet" else f"none-seed{RANDOM_WEIGHTS_SEED}"
    digest = hashlib.sha256()
    with open(weights, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return f"file-{digest.hexdigest()[:12]}"


def backbone(name: str) -> Backbone:
    if name not in BACKBONES:
        raise FeatureConfigError(
            f"unknown model {name!r}; choose one of {', '.join(BACKBONES)}")
    return BACKBONES[name]


def check_weights(weights: str) -> None:
    if weights not in ("imagenet", "none") and not os.path.isfile(weights):
        raise FeatureConfigError(
            f"weights must be 'imagenet', 'none' or a weights file; no file at {weights!r}")


def keras_models() -> str:
    """The folder Keras caches downloaded weights in: ``$KERAS_HOME/models``,
    else ``~/.keras/models`` (``/tmp/.keras/models`` when home is read-only)."""
    home = os.environ.get("KERAS_HOME")
    if not home:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    return os.path.join(home, "models")


def _imagenet_missing(bb: Backbone, reason: str) -> str:
    name = bb.imagenet.rsplit("/", 1)[1]
    return (f"the ImageNet weights of {bb.name} are not on this machine and cannot be "
            f"downloaded ({reason}): copy {name} (from {bb.imagenet}) into "
            f"{keras_models()}, or set similar.weights to a weights file")


def check_available(name: str, weights: str, timeout: float = 10.0) -> None:
    """Check, before any work, that the network's weights can be had: a
    weights file exists; the ImageNet weights are in Keras' cache, or
    their address answers (Keras downloads them when the network is
    built). Raises FeatureConfigError naming the file and where it goes."""
    check_weights(weights)
    if weights != "imagenet":
        return
    bb = backbone(name)
    if os.path.isfile(os.path.join(keras_models(), bb.imagenet.rsplit("/", 1)[1])):
        return
    try:  # an opener of its own: urlopen's shared one keeps the proxies of its first use
        with urllib.request.build_opener().open(
                urllib.request.Request(bb.imagenet, method="HEAD"), timeout=timeout):
            return
    except (OSError, ValueError) as exc:  # no network, refused, timed out, an HTTP error
        raise FeatureConfigError(
            _imagenet_missing(bb, _first_line(getattr(exc, "reason", exc)))) from None


def check_settings(name: str, depth: int | str, weights: str) -> Backbone:
    """Validate the settings without loading anything heavy."""
    bb = backbone(name)
    bb.depth(depth)
    check_weights(weights)
    return bb


def family_key(name: str, weights: str) -> str:
    """The name of a backbone with its weights: ``xception/imagenet``.
    Calibrations are stored under it (they cover every candidate layer)."""
    backbone(name)
    check_weights(weights)
    return f"{name}/{weights_id(weights)}"


def described(key: str, weights: str) -> str:
    """A model or family key for people: a weights file by its name
    (``inception_v3/mixed10/nsfw.h5``), not by the digest stored."""
    head, _, wid = key.rpartition("/")
    if wid.startswith("file-") and weights not in ("imagenet", "none"):
        return f"{head}/{os.path.basename(weights)}"
    return key


def model_key(name: str, depth: int | str, weights: str) -> str:
    """The name vectors are stored under: ``xception/block14_sepconv2_act/imagenet``."""
    bb = check_settings(name, depth, weights)
    return f"{name}/{bb.layer(bb.depth(depth))}/{weights_id(weights)}"


class FeatureExtractor:
    """Turns batches of uint8 RGB images into float32 feature vectors.

    ``depths`` asks for several candidate layers at once, from one forward
    pass (calibration); :meth:`extract` gives ``depth``'s vectors and
    :meth:`extract_all` every depth's.
    """

    def __init__(self, backbone: str = "xception", depth: int | str = 1,
                 weights: str = "imagenet", depths: tuple[int, ...] | None = None) -> None:
        self.key = model_key(backbone, depth, weights)  # validates the settings
        check_available(backbone, weights)
        self.backbone = BACKBONES[backbone]
        self.depth = self.backbone.depth(depth)
        self.depths = tuple(depths) if depths else (self.depth,)
        if self.depth not in self.depths:
            self.depths = (self.depth, *self.depths)
        self.dim = self.backbone.dims[self.depth - 1]
        self.size = (self.backbone.input_size, self.backbone.input_size)
        with _quiet_stderr():  # TensorFlow's C++ start-up lines
            self.model = self._build(weights)
            self._preprocess = self._preprocess_fn()
            self._infer = self._inference_fn()
            self._warm_up()

    def _build(self, weights: str):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import keras

        bb = self.backbone
        ctor = getattr(keras.applications, bb.constructor)
        if weights == "none":
            keras.utils.set_random_seed(RANDOM_WEIGHTS_SEED)
        try:
            with warnings.catch_warnings(record=True) as caught:
                # Keras loads a file that does not fit part way, and warns.
                warnings.simplefilter("always")
                base = ctor(
                    include_top=False,
                    weights=None if weights == "none" else weights,
                    input_shape=(bb.input_size, bb.input_size, 3),
                )
            if weights not in ("imagenet", "none") and caught:
                raise ValueError(f"{len(caught)} parts do not fit, such as: "
                                 f"{caught[0].message}")
        except Exception as exc:  # download failures, bad files
            if weights == "imagenet":  # Keras: "URL fetch failure on URL: None -- why"
                why = str(exc).split("\n")[0].rsplit(" -- ", 1)[-1]
                raise FeatureConfigError(_imagenet_missing(bb, _first_line(why))) from None
            reason = _first_line(exc)
            raise FeatureConfigError(
                f"cannot load weights {weights} into {bb.name} ({reason}); it must be "
                f"a Keras weights file of {bb.constructor} without its top") from None
        outputs = []
        for depth in self.depths:
            name = bb.layers[depth - 1]
            out = base.output if name is None else base.get_layer(name).output
            outputs.append(keras.layers.GlobalAveragePooling2D(name=f"similar_pool_d{depth}")(out))
        return keras.Model(base.input, outputs, name=f"similar_{bb.name}")

    def _preprocess_fn(self):
        if self.backbone.preprocess is None:
            return lambda x: x.astype(np.float32)
        import importlib

        module = importlib.import_module(
            f"keras.applications.{self.backbone.preprocess}")
        return lambda x: module.preprocess_input(x.astype(np.float32))

    def _inference_fn(self):
        """One compiled graph for every batch size (TensorFlow backend);
        ``predict_on_batch`` would retrace for each new batch shape."""
        import keras

        if keras.backend.backend() != "tensorflow":
            return lambda x: _as_list(self.model.predict_on_batch(x))
        import tensorflow as tf

        spec = tf.TensorSpec((None, self.size[1], self.size[0], 3), tf.float32)
        graph = tf.function(lambda x: self.model(x, training=False),
                            input_signature=[spec])
        return lambda x: [o.numpy() for o in _as_list(graph(tf.constant(x)))]

    def _warm_up(self) -> None:
        """Build the graph now rather than on the first real batch."""
        self.extract(np.zeros((1, self.size[1], self.size[0], 3), np.uint8))

    def extract_all(self, images: np.ndarray) -> dict[int, np.ndarray]:
        """(n, h, w, 3) uint8 images of ``self.size`` -> {depth: (n, dim) float32}."""
        if images.ndim != 4 or images.shape[1:3] != self.size[::-1]:
            raise ValueError(f"expected (n, {self.size[1]}, {self.size[0]}, 3), got {images.shape}")
        out = self._infer(self._preprocess(images))
        return {d: np.asarray(o, dtype=np.float32) for d, o in zip(self.depths, out)}

    def extract(self, images: np.ndarray) -> np.ndarray:
        """(n, h, w, 3) uint8 images of ``self.size`` -> (n, dim) float32."""
        return self.extract_all(images)[self.depth]


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: TensorFlow writes its start-up
    lines there from C++, whatever TF_CPP_MIN_LOG_LEVEL says."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _as_list(outputs) -> list:
    """A model of one output gives a tensor, of several a list."""
    return list(outputs) if isinstance(outputs, list | tuple) else [outputs]


def _first_line(exc: Exception | str) -> str:
    text = " ".join(str(exc).split("\n")[0].split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
