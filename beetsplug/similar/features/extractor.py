"""CNN feature vectors from Keras backbones: the featurizer.

Pure: needs Keras (imported when an extractor is built), not beets.
A vector is the global average of one layer's activations; ``depth``
picks the layer, 1 being the last convolutional block and 2..4 earlier
ones (the table in README.md lists them).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Backbone:
    name: str
    constructor: str  # attribute of keras.applications
    input_size: int  # square input side, pixels
    preprocess: str | None  # keras.applications module with preprocess_input;
    # None: the model rescales 0..255 input itself
    layers: tuple[str | None, ...]  # per depth 1..4; None: the model's output
    dims: tuple[int, ...]  # vector length per depth


BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in (
        Backbone("xception", "Xception", 299, "xception",
                 ("block14_sepconv2_act", "block14_sepconv1_act",
                  "block13_sepconv2_bn", "block12_sepconv3_bn"),
                 (2048, 1536, 1024, 728)),
        Backbone("mobilenet_v3_small", "MobileNetV3Small", 224, None,
                 (None, "expanded_conv_10_add", "expanded_conv_7_add",
                  "expanded_conv_5_add"),
                 (576, 96, 48, 40)),
        Backbone("efficientnet_b0", "EfficientNetB0", 224, None,
                 ("top_activation", "block7a_project_bn", "block6d_add",
                  "block5c_add"),
                 (1280, 320, 192, 112)),
        Backbone("resnet50", "ResNet50", 224, "resnet50",
                 ("conv5_block3_out", "conv5_block2_out", "conv4_block6_out",
                  "conv3_block4_out"),
                 (2048, 2048, 1024, 512)),
    )
}

MAX_DEPTH = 4
RANDOM_WEIGHTS_SEED = 0


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


def check_settings(backbone: str, depth: int, weights: str) -> Backbone:
    """Validate the settings without loading anything heavy."""
    if backbone not in BACKBONES:
        raise FeatureConfigError(
            f"unknown model {backbone!r}; choose one of {', '.join(BACKBONES)}")
    if not 1 <= depth <= MAX_DEPTH:
        raise FeatureConfigError(f"depth must be 1 to {MAX_DEPTH}, not {depth}")
    if weights not in ("imagenet", "none") and not os.path.isfile(weights):
        raise FeatureConfigError(
            f"weights must be 'imagenet', 'none' or a weights file; "
            f"no file at {weights!r}")
    return BACKBONES[backbone]


def model_key(backbone: str, depth: int, weights: str) -> str:
    """The name vectors are stored under: ``xception/d1/imagenet``."""
    check_settings(backbone, depth, weights)
    return f"{backbone}/d{depth}/{weights_id(weights)}"


class FeatureExtractor:
    """Turns batches of uint8 RGB images into float32 feature vectors."""

    def __init__(self, backbone: str = "xception", depth: int = 1,
                 weights: str = "imagenet") -> None:
        self.key = model_key(backbone, depth, weights)  # validates the settings
        self.backbone = BACKBONES[backbone]
        self.depth = depth
        self.dim = self.backbone.dims[depth - 1]
        self.size = (self.backbone.input_size, self.backbone.input_size)
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
            base = ctor(
                include_top=False,
                weights=None if weights == "none" else weights,
                input_shape=(bb.input_size, bb.input_size, 3),
            )
        except Exception as exc:  # download failures, bad files
            if weights == "imagenet":
                raise FeatureConfigError(
                    f"cannot get the ImageNet weights for {bb.name} ({exc}); "
                    "connect to the internet once (Keras caches them in "
                    "~/.keras/models) or set similar.weights to a local file"
                ) from None
            raise FeatureConfigError(
                f"cannot load weights {weights!r} into {bb.name} ({exc}); "
                "it must be the no-top weights file for this model") from None
        layer = bb.layers[self.depth - 1]
        out = base.output if layer is None else base.get_layer(layer).output
        pooled = keras.layers.GlobalAveragePooling2D(name="similar_pool")(out)
        return keras.Model(base.input, pooled, name=f"similar_{bb.name}_d{self.depth}")

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
            return self.model.predict_on_batch
        import tensorflow as tf

        spec = tf.TensorSpec((None, self.size[1], self.size[0], 3), tf.float32)
        graph = tf.function(lambda x: self.model(x, training=False),
                            input_signature=[spec])
        return lambda x: graph(tf.constant(x)).numpy()

    def _warm_up(self) -> None:
        """Build the graph now rather than on the first real batch."""
        self.extract(np.zeros((1, self.size[1], self.size[0], 3), np.uint8))

    def extract(self, images: np.ndarray) -> np.ndarray:
        """(n, h, w, 3) uint8 images of ``self.size`` -> (n, dim) float32."""
        if images.ndim != 4 or images.shape[1:3] != self.size[::-1]:
            raise ValueError(f"expected (n, {self.size[1]}, {self.size[0]}, 3), got {images.shape}")
        out = self._infer(self._preprocess(images))
        return np.asarray(out, dtype=np.float32)
