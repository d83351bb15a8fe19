"""beets-similar: a photo library in the beets database that finds
duplicate and near-duplicate photos with a pretrained CNN and orders them
so that look-alikes sit next to each other on disk.

The plugin class only declares configuration, commands and events; the
work is done by the modules beside it.
"""

from __future__ import annotations

from beets import ui
from beets.dbcore import types
from beets.plugins import BeetsPlugin

from . import interrupts

interrupts.starting()  # before the long imports: Ctrl-C while beet starts is one line

from . import commands  # noqa: E402
from .commands import featurize  # noqa: E402
from .imaging.decode import DEFAULT_MAX_PIXELS  # noqa: E402
from .imaging.shots import SIDECARS  # noqa: E402
from .keep.score import FORMATS  # noqa: E402
from .library.models import ensure_schema  # noqa: E402


class SimilarPlugin(BeetsPlugin):
    # Model key -> FeatureExtractor, built on demand, once per process: a
    # network takes seconds to build, and its weights do not change.
    extractors: dict = {}
    # Flexible attributes of photos, typed for queries (`duplicate_of:1..`).
    photo_types = {"duplicate_of": types.INTEGER,
                   "rating": types.INTEGER}  # -1..5, from XMP; the kept photo takes the highest

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        defaults = {
            # similar-import / similar-ls
            "format": "$path",
            "sort": "path+",
            "threads": 4,
            "max_pixels": DEFAULT_MAX_PIXELS,
            # files that follow their photo (by name stem or full name)
            "sidecars": list(SIDECARS),
            # similar-dupes / similar-order: which photo of a group to keep
            "keep": ["quality", "largest", "oldest"],
            "formats": list(FORMATS),  # best first, for quality and keep: format
            "burst_gap": 2.0,  # seconds between frames of one burst
            # similar-featurize
            "auto": False,
            "model": "xception",
            "depth": "auto",  # the calibrated layer, or 1.., or a layer's name
            "weights": "imagenet",
            "batch_size": 16,
            "dtype": "float16",
            # similar-order
            "metric": "euclidean",
            "improve": True,
            "rename_format": "$rankpad-$origname",
            "dupes_folder": "duplicates",
            # similar-dupes / similar-report / similar-order: cosine distance
            # under which photos are near-duplicates; auto: calibrated
            "threshold": "auto",
            # similar-calibrate: how many photos to measure
            "calibration_sample": 200,
            # threshold auto: expected wrong near-duplicate partners per photo
            "false_matches": 0.01,
            "verify": True,  # no near-duplicate until a second check confirms the pair
            "verify_candidates": 8.0,  # candidates per photo, checked
        }
        self.config.add(defaults)
        self.known_keys = frozenset(defaults)  # any other key is a typo (commands/guard.py)
        self.register_listener("library_opened", self.library_opened)
        self.register_listener("similar_import_done", self.import_done)

    def library_opened(self, lib) -> None:
        ensure_schema(lib)
        interrupts.started()  # the command (any command) starts next

    def import_done(self, lib, photos) -> None:
        """Featurize what ``similar-import`` added, when ``auto`` is on."""
        if self.config["auto"].get(bool) and photos:
            featurize.featurize_photos(self, lib, photos, force=False)

    def commands(self) -> list[ui.Subcommand]:
        return commands.build(self)
