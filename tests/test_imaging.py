"""Decoding and metadata on real generated files, good and bad."""

from __future__ import annotations

import os
from datetime import datetime

import numpy as np
import pytest
from PIL import Image

from beetsplug.similar import samples
from beetsplug.similar.imaging import decode as imaging
from beetsplug.similar.imaging.decode import ImageError, load_for_model, read_info


@pytest.fixture
def jpeg(tmp_path):
    return samples.save_photo(samples.scene(1, (400, 300)), str(tmp_path / "a.jpg"), seed=1)


def test_read_info_exif(jpeg):
    info = read_info(jpeg)
    assert (info.width, info.height) == (400, 300)
    assert info.format == "JPEG"
    assert info.make == "NIKON CORPORATION" and info.model == "NIKON D750"
    assert info.taken == datetime(2019, 1, 2, 0, 0, 37)
    assert info.orientation == 1


def test_orientation_swaps_size_and_upright_decode(tmp_path):
    # A tall subject stored sideways: orientation 6 means rotate 90 CW to view.
    img = Image.new("RGB", (200, 100), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 100, 100))  # white left half
    path = samples.save_photo(img, str(tmp_path / "r.jpg"), seed=0, orientation=6)
    info = read_info(path)
    assert (info.width, info.height) == (100, 200)
    arr = load_for_model(path, (50, 100))
    assert arr.shape == (100, 50, 3) and arr.dtype == np.uint8
    # After rotating 90 CW the white half is on top.
    assert arr[:40].mean() > 200 and arr[60:].mean() < 60


def test_no_exif_png(tmp_path):
    path = str(tmp_path / "plain.png")
    Image.new("RGB", (10, 20), (1, 2, 3)).save(path)
    info = read_info(path)
    assert info.taken is None and info.make == "" and (info.width, info.height) == (10, 20)


@pytest.mark.parametrize("mode", ["CMYK", "L", "P", "RGBA", "LA", "I;16", "1"])
def test_modes_decode_to_rgb(tmp_path, mode):
    rgb = samples.scene(3, (64, 48))
    if mode == "I;16":
        arr = (np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
        img = Image.fromarray(arr)
        assert img.mode == "I;16"
    else:
        img = rgb.convert(mode)
    ext = ".jpg" if mode in ("CMYK", "L") else (".tif" if mode == "I;16" else ".png")
    path = str(tmp_path / f"m{ext}")
    img.save(path)
    arr = load_for_model(path, (32, 24))
    assert arr.shape == (24, 32, 3) and arr.dtype == np.uint8
    if mode in ("L", "I;16", "CMYK", "RGBA"):
        # Same picture whatever the storage: close to the RGB original's grey.
        ref = np.asarray(rgb.resize((32, 24), Image.Resampling.BILINEAR).convert("L"), float)
        grey = np.asarray(Image.fromarray(arr).convert("L"), float)
        assert abs(grey - ref).mean() < 6


def test_transparent_area_becomes_white(tmp_path):
    img = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    path = str(tmp_path / "t.png")
    img.save(path)
    assert load_for_model(path, (8, 8)).min() == 255


def test_animated_gif_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = str(tmp_path / "anim.gif")
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert read_info(path).frames == 2
    arr = load_for_model(path, (8, 8))
    assert arr[..., 0].mean() > 200 and arr[..., 2].mean() < 50


@pytest.mark.parametrize("kind,message", [
    ("truncated", "corrupt or truncated"),
    ("empty", "empty file"),
    ("not_image", "not an image"),
    ("garbage_png", ""),
])
def test_bad_files_raise_one_line_errors(tmp_path, jpeg, kind, message):
    path = samples.write_bad_files(str(tmp_path / "bad"), jpeg)[kind]
    for func in (read_info, lambda p: load_for_model(p, (32, 32))):
        with pytest.raises(ImageError) as err:
            func(path)
        text = str(err.value)
        assert text.startswith(path) and "\n" not in text and message in text


def test_huge_image_refused_before_decoding(tmp_path):
    path = str(tmp_path / "big.png")
    Image.new("RGB", (3000, 2000)).save(path)
    with pytest.raises(ImageError, match="too large"):
        read_info(path, max_pixels=1_000_000)
    with pytest.raises(ImageError, match="too large"):
        load_for_model(path, (32, 32), max_pixels=1_000_000)
    assert read_info(path, max_pixels=10_000_000).width == 3000


def test_vanished_and_unreadable(tmp_path, jpeg):
    gone = str(tmp_path / "gone.jpg")
    with pytest.raises(ImageError, match="vanished"):
        read_info(gone)
    if os.geteuid() != 0:  # root reads anything
        os.chmod(jpeg, 0)
        with pytest.raises(ImageError, match="permission"):
            read_info(jpeg)


def test_content_hash_equal_only_for_identical_bytes(tmp_path, jpeg):
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(open(jpeg, "rb").read())
    assert imaging.content_hash(jpeg) == imaging.content_hash(str(copy))
    copy.write_bytes(open(jpeg, "rb").read() + b"\0")
    assert imaging.content_hash(jpeg) != imaging.content_hash(str(copy))


def test_draft_decode_matches_full_decode(tmp_path):
    big = samples.scene(5, (2400, 1800))
    path = samples.save_photo(big, str(tmp_path / "big.jpg"), seed=5)
    fast = load_for_model(path, (299, 299)).astype(float)
    full = np.asarray(Image.open(path).convert("RGB").resize((299, 299), Image.Resampling.BILINEAR), float)
    assert np.abs(fast - full).mean() < 4


def test_a_raw_file_gone_is_vanished_not_corrupt(tmp_path):
    """The attack's case: a DNG that a run cut off renamed (the library
    still has its old name) was "not a RAW file LibRaw can read
    (b'Input/output error') (re-copy it from the camera)"."""
    from beetsplug.similar.imaging import raw

    path = str(tmp_path / "IMG_1.dng")
    for read in (raw.read, lambda p: raw.open_upright(p, 256)):
        with pytest.raises(ImageError) as exc:
            read(path)
        assert str(exc.value) == f"{path}: file vanished (run the command again)"
