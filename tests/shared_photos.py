"""Where the real photos for the slow tests are (never in the repository):
``$SIMILAR_SHARED_PHOTOS``, else ``../shared/photos`` beside the repository."""

from __future__ import annotations

import os

import pytest

ROOT = os.environ.get("SIMILAR_SHARED_PHOTOS") or os.path.normpath(
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "photos"))
UNRELATED = os.path.join(ROOT, "unrelated")  # 500 real photos, none alike
NEAR = os.path.join(ROOT, "near")  # real near-duplicate groups, groups.json


def needed(folder: str) -> str:
    """``folder``, or skip the test when it is not there."""
    if not os.path.isdir(folder):
        pytest.skip(f"no real photos in {folder} (set SIMILAR_SHARED_PHOTOS)")
    return folder
