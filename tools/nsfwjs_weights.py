"""Really pretrained Keras weights, offline: convert the nsfwjs models.

The npm package nsfwjs (MIT) ships an InceptionV3 and a MobileNetV2,
ImageNet-initialised and fine-tuned on five classes, as uint8-quantised
TF.js layers models inside minified JS modules. This turns one into a
Keras weights file of the model *without its top*, which
``similar.weights: FILE`` loads like any other:

    python tools/nsfwjs_weights.py inception_v3 /tmp/inception_v3.weights.h5

For benchmarks and tests that need real features on a machine that cannot
download ImageNet weights; never a default of the plugin. Needs ``npm``
(to fetch the package) and ``node`` (to read its modules).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

VERSION = "4.4.0"
# nsfwjs model folder -> (backbone in beetsplug.similar, Keras constructor)
MODELS = {"inception_v3": ("inception_v3", "InceptionV3", 299),
          "mobilenet_v2": ("mobilenet_v2", "MobileNetV2", 224)}
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "beets-similar")

_DUMP_JS = """
const fs = require("fs"), path = require("path");
const dir = process.argv[1];
const model = require(path.join(dir, "model.min.js"));
const shards = model.weightsManifest[0].paths.map(
    p => require(path.join(dir, p + ".min.js")));
fs.writeFileSync(process.argv[2], JSON.stringify({
    layers: model.modelTopology.model_config.config.layers.map(
        l => ({name: l.config.name, cls: l.class_name})),
    weights: model.weightsManifest[0].weights, shards: shards}));
"""


def package_dir(cache: str = CACHE) -> str:
    """The unpacked nsfwjs package, fetched with ``npm pack`` once."""
    target = os.path.join(cache, f"nsfwjs-{VERSION}")
    if os.path.isdir(os.path.join(target, "package", "dist", "models")):
        return os.path.join(target, "package")
    os.makedirs(target, exist_ok=True)
    subprocess.run(["npm", "pack", f"nsfwjs@{VERSION}", "--silent",
                    "--pack-destination", target], check=True, stdout=subprocess.DEVNULL)
    with tarfile.open(os.path.join(target, f"nsfwjs-{VERSION}.tgz")) as tar:
        tar.extractall(target, filter="data")
    return os.path.join(target, "package")


def _dequantize(raw: memoryview, spec: dict) -> np.ndarray:
    shape = spec["shape"]
    count = int(np.prod(shape)) if shape else 1
    quant = spec.get("quantization")
    if quant:
        dtype = np.dtype(quant["dtype"])
        values = np.frombuffer(raw, dtype=dtype, count=count)
        if dtype == np.float16:
            out = values.astype(np.float32)
        else:
            out = quant["min"] + values.astype(np.float32) * quant["scale"]
    else:
        out = np.frombuffer(raw, dtype=np.dtype(spec["dtype"]), count=count).astype(np.float32)
    return out.reshape(shape).astype(np.float32)


def _nbytes(spec: dict) -> int:
    count = int(np.prod(spec["shape"])) if spec["shape"] else 1
    quant = spec.get("quantization")
    return count * np.dtype(quant["dtype"] if quant else spec["dtype"]).itemsize


def read_tfjs(model_dir: str) -> tuple[list[dict], dict[str, np.ndarray]]:
    """(layers in topology order, {"layer/weight": array}) of one model."""
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "dump.json")
        subprocess.run(["node", "-e", _DUMP_JS, model_dir, dump], check=True)
        with open(dump) as f:
            data = json.load(f)
    blob = memoryview(b"".join(base64.b64decode(s) for s in data["shards"]))
    weights, offset = {}, 0
    for spec in data["weights"]:
        size = _nbytes(spec)
        weights[spec["name"]] = _dequantize(blob[offset:offset + size], spec)
        offset += size
    if offset != len(blob):
        raise ValueError(f"weights manifest covers {offset} of {len(blob)} bytes")
    return data["layers"], weights


# Weight order Keras keeps per layer class, by TF.js weight name.
_ORDER = {"Conv2D": ("kernel", "bias"), "DepthwiseConv2D": ("depthwise_kernel", "bias"),
          "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
          "Dense": ("kernel", "bias")}


def _fold_input_scaling(source: dict[str, list[tuple[str, list[np.ndarray]]]]) -> None:
    """nsfwjs feeds its networks x / 255 (0..1); Keras' preprocessing for
    these models gives x / 127.5 - 1 (-1..1), that is 2 * (x / 255) - 1.
    Fold the difference into the first convolution and its batch norm, so
    the converted weights see what they were trained on: conv(W, (k + 1) / 2)
    = conv(W / 2, k) + sum(W) / 2, and the constant goes into the mean."""
    kernel = source["Conv2D"][0][1]
    norm = source["BatchNormalization"][0][1]
    shift = kernel[0].sum(axis=(0, 1, 2)) / 2.0
    kernel[0] = kernel[0] / 2.0
    norm[-2] = norm[-2] - shift  # moving_mean (gamma may be absent: index from the end)


def convert(name: str, out: str, cache: str = CACHE) -> str:
    """Write the no-top Keras weights of nsfwjs model ``name`` to ``out``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    _, ctor, side = MODELS[name]
    layers, weights = read_tfjs(os.path.join(package_dir(cache), "dist", "models", name))
    source: dict[str, list[tuple[str, list[np.ndarray]]]] = {}  # class -> layers in order
    for layer in layers:
        names = [f"{layer['name']}/{w}" for w in _ORDER.get(layer["cls"], ())]
        arrays = [weights[n] for n in names if n in weights]
        if arrays:
            source.setdefault(layer["cls"], []).append((layer["name"], arrays))
    _fold_input_scaling(source)
    model = getattr(keras.applications, ctor)(include_top=False, weights=None,
                                              input_shape=(side, side, 3))
    taken = {cls: 0 for cls in source}
    for layer in model.layers:
        if not layer.weights:
            continue
        cls = type(layer).__name__
        src_name, arrays = source[cls][taken[cls]]
        taken[cls] += 1
        expected = [tuple(w.shape) for w in layer.weights]
        if [a.shape for a in arrays] != expected:
            raise ValueError(f"{layer.name} <- {src_name}: shapes {[a.shape for a in arrays]} "
                             f"!= {expected}")
        layer.set_weights(arrays)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    model.save_weights(out)
    return out


def cached(name: str, cache: str = CACHE) -> str:
    """The converted weights file of ``name``, made once and kept in ``cache``."""
    out = os.path.join(cache, f"nsfwjs-{VERSION}-{name}-notop.weights.h5")
    return out if os.path.exists(out) else convert(name, out, cache)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("out", nargs="?", help="weights file to write (.weights.h5); "
                        f"default: a cached file under {CACHE}")
    args = parser.parse_args(argv)
    path = convert(args.model, args.out) if args.out else cached(args.model)
    print(path)


if __name__ == "__main__":
    sys.exit(main())
