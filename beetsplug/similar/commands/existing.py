"""The vectors a command uses when the library has none of the configured
network: settings given on one command (``similar-featurize -w none``)
do not leave the next one (``similar-dupes``, which has no ``-w``) asking
for another network."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..features.extractor import RANDOM_WEIGHTS_SEED, FeatureConfigError, weights_id
from ..library import vectors

if TYPE_CHECKING:
    from beets.library import Library

    from .. import SimilarPlugin


WEIGHTS_OF = {"imagenet": "imagenet", f"none-seed{RANDOM_WEIGHTS_SEED}": "none"}


def existing_vectors(plugin: SimilarPlugin, lib: Library, model: str,
                     weights_: str) -> tuple[str, str, str] | None:
    """The (model, layer, weights) of the library's vectors, when it has
    none made with ``model`` and ``weights_`` but all of one other key
    (say ``similar-featurize -w none`` was run): the vectors that exist are
    used, with a line saying so. When they cannot be used (several keys, a
    weights file), a line says which setting to give."""
    keys = vectors.models(lib)
    try:
        mine = f"/{weights_id(weights_)}"
    except (FeatureConfigError, OSError):
        return None
    if not keys or any(k.startswith(f"{model}/") and k.endswith(mine) for k in keys):
        return None
    asked = f"similar.model {model} with similar.weights {weights_}"
    if len(keys) == 1:
        key = next(iter(keys))
        other, layer, wid = key.split("/", 2)
        if wid in WEIGHTS_OF:
            plugin._log.warning("the library has no vectors of {}; using its vectors, {} "
                                "(to keep these, set similar.weights: {}{})", asked, key,
                                WEIGHTS_OF[wid],
                                "" if other == model else f" and similar.model: {other}")
            return other, layer, WEIGHTS_OF[wid]
        plugin._log.warning("the library has no vectors of {}, only {}, made with a weights "
                            "file: set similar.weights to that file (and similar.model: {}), "
                            "or run `beet similar-featurize`", asked, key, other)
        return None
    plugin._log.warning("the library has no vectors of {}, only of {}: set similar.model and "
                        "similar.weights to those of one, or run `beet similar-featurize`",
                        asked, ", ".join(sorted(keys)))
    return None
