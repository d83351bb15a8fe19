"""With a really pretrained network: the InceptionV3 of the npm package
nsfwjs, converted to Keras weights (tools/nsfwjs_weights.py). Needs npm
and node, which fetch and read the package once; the file is cached."""

from __future__ import annotations

import os
import re
import shutil
import sys

import pytest

from beetsplug.similar import samples
from beetsplug.similar.calibration import store
from beetsplug.similar.features.extractor import family_key
from beetsplug.similar.library.photos import photos

from .conftest import SimilarHelper

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import nsfwjs_weights  # noqa: E402

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (shutil.which("npm") and shutil.which("node")),
                                 reason="needs npm and node to convert the nsfwjs weights")]


@pytest.fixture(scope="session")
def inception_weights() -> str:
    return nsfwjs_weights.cached("inception_v3")


@pytest.fixture(scope="session")
def scenes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pretrained")
    groups = samples.make_groups(str(folder), groups=10, per_group=3, size=(480, 360),
                                 start_seed=500)
    return folder, {os.path.basename(p): g for g, ps in groups.items() for p in ps}


class TestPretrained(SimilarHelper):
    def test_middle_layer_wins_and_defaults_find_the_groups(self, inception_weights, scenes,
                                                            capsys):
        folder, truth = scenes
        self.config["similar"].set({"model": "inception_v3", "weights": inception_weights})
        self.run_command("similar-import", str(folder))
        self.run_command("similar-calibrate")
        calibration = store.load(self.lib, family_key("inception_v3", inception_weights))
        top, chosen = calibration.at(1), calibration.at(calibration.chosen)
        assert calibration.chosen > 1 and chosen.auc > top.auc + 0.1  # as on real photos
        self.run_command("similar-featurize")
        out = self.run_output(capsys, "similar-dupes", "-f", "$origname")
        found = [[line[4:] for line in block.splitlines()] for block in
                 re.findall(r"group \d+: \w+, \d+ photos[^\n]*\n((?:  .*\n)+)", out)]
        pure = [g for g in found if len({truth[n] for n in g}) == 1]
        assert len(found) >= 7 and len(pure) >= 0.7 * len(found)
        assert sum(len(g) for g in pure) >= 0.6 * len(truth)
        assert all(p.hash for p in photos(self.lib))

