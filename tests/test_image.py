"""Tests of skycore.image: reading photos, dtype/layout conversion, writing masks."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from skycore import ImageError, as_float_rgb, read_image, write_mask
from skycore.image import MAX_PIXELS, as_rgb, read_probability

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PHOTOS = SHARED / "data" / "photos"
SEED_EVAL = SHARED / "data" / "seed-eval"


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width x height`` RGB but holds almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    data += chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


def test_read_image_jpeg_is_rgb_uint8_like_pillow():
    path = PHOTOS / "kodak_kodim13.jpg"
    image = read_image(path)
    reference = np.asarray(Image.open(path).convert("RGB"))
    assert image.dtype == np.uint8
    assert image.shape == reference.shape == (512, 768, 3)
    # Same decoder family, so at most rounding differences; a BGR mix-up would be far off.
    assert np.abs(image.astype(int) - reference).mean() < 1.0


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_read_image_applies_exif_orientation(tmp_path, orientation):
    pixels = np.zeros((40, 60, 3), np.uint8)
    pixels[:10, :, 0] = 255  # red band along the stored top edge
    pixels[:, :8, 2] = 255  # blue band along the stored left edge
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"orientation{orientation}.jpg"
    Image.fromarray(pixels).save(path, exif=exif, quality=98)

    image = read_image(path)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    assert image.shape == expected.shape
    assert image.shape[:2] == ((60, 40) if orientation in (6, 8) else (40, 60))
    assert np.abs(image.astype(int) - expected).max() <= 8


def test_read_image_16bit_png_keeps_depth(tmp_path):
    gray = (np.arange(600, dtype=np.uint16).reshape(20, 30) * 100).astype(np.uint16)
    path = tmp_path / "gray16.png"
    cv2.imwrite(str(path), gray)
    image = read_image(path)
    assert image.dtype == np.uint16 and image.shape == (20, 30, 3)
    np.testing.assert_array_equal(image[:, :, 1], gray)
    assert np.allclose(as_float_rgb(image)[0, 5], 500 / 65535)


def test_read_image_rgba_drops_alpha_keeps_colour(tmp_path):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 3] = 200, 30, 0  # fully transparent
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(path)
    image = read_image(path)
    assert image.shape == (20, 30, 3)
    np.testing.assert_array_equal(image[0, 0], [200, 30, 0])


def test_read_image_grayscale_becomes_three_equal_channels(tmp_path):
    path = tmp_path / "gray.png"
    Image.fromarray(np.full((10, 12), 77, np.uint8), "L").save(path)
    image = read_image(path)
    assert image.shape == (10, 12, 3) and (image == 77).all()


def test_read_image_one_pixel(tmp_path):
    path = tmp_path / "one.png"
    Image.fromarray(np.array([[[1, 2, 3]]], np.uint8)).save(path)
    np.testing.assert_array_equal(read_image(path), [[[1, 2, 3]]])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"this is not an image at all", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "not an image"),
    ],
    ids=["empty", "text", "broken-png"],
)
def test_read_image_refuses_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message):
        read_image(path)
    assert path.read_bytes() == content  # nothing lost


def test_read_image_refuses_truncated_png(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        read_image(truncated)


def test_read_image_missing_file_or_folder(tmp_path):
    with pytest.raises(ImageError, match="nothing.jpg: no such file"):
        read_image(tmp_path / "nothing.jpg")
    with pytest.raises(ImageError, match="is a folder, not an image file"):
        read_image(tmp_path)


def test_read_image_refuses_huge_header_before_decoding(tmp_path):
    path = _png_header_only(tmp_path / "huge.png", 100_000, 100_000)
    # 30 GB of pixels if decoded; the header check must refuse it and name the limit.
    with pytest.raises(
        ImageError, match=f"header claims 10000 MP, over the limit of {MAX_PIXELS / 1e6:.0f} MP"
    ):
        read_image(path)


def test_read_image_max_pixels_checks_header(tmp_path):
    path = _png_header_only(tmp_path / "big.png", 3000, 2000)
    with pytest.raises(ImageError, match="3000x2000 = 6 MP, over the limit of 5 MP"):
        read_image(path, max_pixels=5_000_000)


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.full((2, 3, 3), 255, np.uint8), 1.0),
        (np.full((2, 3, 3), 51, np.uint8), 0.2),
        (np.full((2, 3, 3), 65535, np.uint16), 1.0),
        (np.full((2, 3, 3), 13107, np.uint16), 0.2),
        (np.full((2, 3, 3), 0.2, np.float32), 0.2),
        (np.full((2, 3, 3), 0.2, np.float64), 0.2),
        (np.full((2, 3, 3), 1.5, np.float32), 1.0),
        (np.full((2, 3), 51, np.uint8), 0.2),
        (np.full((2, 3, 1), 51, np.uint8), 0.2),
        (np.full((2, 3, 4), 51, np.uint8), 0.2),
    ],
    ids=["u8-max", "u8", "u16-max", "u16", "f32", "f64", "f32-over", "gray", "gray1", "rgba"],
)
def test_as_float_rgb_layouts_and_dtypes(array, expected):
    rgb = as_float_rgb(array)
    assert rgb.dtype == np.float32 and rgb.shape == (2, 3, 3)
    np.testing.assert_allclose(rgb, expected, atol=1e-6)


def test_as_float_rgb_float32_in_range_is_not_copied():
    rgb = np.full((4, 5, 3), 0.5, np.float32)
    assert as_float_rgb(rgb) is rgb


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full((4, 4, 3), np.nan, np.float32), "NaN"),
        (np.full((4, 4, 3), np.inf, np.float64), "NaN or infinite"),
        (np.zeros((4, 4, 2), np.uint8), "shape"),
        (np.zeros((2, 4, 4, 3), np.uint8), "shape"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.zeros((4, 4, 3), np.int32), "dtype int32"),
        (np.zeros((4, 4, 3), bool), "dtype bool"),
    ],
    ids=["nan", "inf", "two-channels", "4d", "empty", "int32", "bool"],
)
def test_as_float_rgb_refuses(array, message):
    with pytest.raises(ImageError, match=message):
        as_float_rgb(array)


def test_as_float_rgb_one_nan_pixel_is_refused():
    rgb = np.zeros((50, 50, 3), np.float32)
    rgb[17, 23, 1] = np.nan
    with pytest.raises(ImageError, match="NaN"):
        as_float_rgb(rgb)


@pytest.mark.parametrize(
    ("array", "dtype"),
    [
        (np.full((2, 3), 51, np.uint8), np.uint8),
        (np.full((2, 3, 1), 13107, np.uint16), np.uint16),
        (np.dstack([np.full((2, 3, 3), 51, np.uint8), np.zeros((2, 3), np.uint8)]), np.uint8),
        (np.full((2, 3, 4), 0.2, np.float32), np.float32),
        (np.full((2, 3, 3), 0.2, np.float64), np.float32),
    ],
    ids=["gray-u8", "gray1-u16", "rgba-u8-transparent", "rgba-f32", "rgb-f64"],
)
def test_as_rgb_keeps_depth(array, dtype):
    rgb = as_rgb(array)
    assert rgb.shape == (2, 3, 3) and rgb.dtype == dtype
    np.testing.assert_allclose(as_float_rgb(rgb), 0.2, atol=1e-6)


def test_as_rgb_returns_rgb_photos_without_copy():
    for dtype in (np.uint8, np.uint16, np.float32):
        photo = np.zeros((4, 5, 3), dtype)
        assert as_rgb(photo) is photo


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((4, 4, 2), np.uint8), "shape"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
        (np.zeros((4, 4, 3), np.int32), "dtype int32"),
        (np.zeros((4, 4, 3), bool), "dtype bool"),
    ],
    ids=["two-channels", "empty", "int32", "bool"],
)
def test_as_rgb_refuses(array, message):
    with pytest.raises(ImageError, match=message):
        as_rgb(array)


def test_read_probability_first_channel_8_and_16_bit(tmp_path):
    eight = cv2.imread(str(SEED_EVAL / "test_1594.png"), cv2.IMREAD_GRAYSCALE)
    path8, path16 = tmp_path / "p8.png", tmp_path / "p16.png"
    cv2.imwrite(str(path8), eight)
    cv2.imwrite(str(path16), eight.astype(np.uint16) * 257)
    p8, p16 = read_probability(path8), read_probability(path16)
    assert p8.dtype == np.float32 and p8.shape == eight.shape
    np.testing.assert_allclose(p8, eight / 255, atol=1e-6)
    np.testing.assert_allclose(p16, p8, atol=1e-6)


def test_read_probability_uses_red_of_rgb(tmp_path):
    rgb = np.zeros((8, 9, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 255, 51, 0
    path = tmp_path / "rgb.png"
    Image.fromarray(rgb).save(path)
    np.testing.assert_allclose(read_probability(path), 1.0)


@pytest.mark.parametrize("bits", [8, 16])
def test_write_mask_round_trip(tmp_path, bits):
    mask = np.linspace(-0.5, 1.5, 40 * 30, dtype=np.float32).reshape(40, 30)
    path = tmp_path / "mask.png"
    write_mask(path, mask, bits=bits)
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert pixels.dtype == (np.uint8 if bits == 8 else np.uint16)
    assert pixels.shape == (40, 30)
    scale = 2**bits - 1
    np.testing.assert_array_equal(pixels, np.round(np.clip(mask, 0, 1) * scale))
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_write_mask_refuses_bad_masks(tmp_path):
    with pytest.raises(ImageError, match="NaN"):
        write_mask(tmp_path / "m.png", np.full((4, 4), np.nan, np.float32))
    with pytest.raises(ImageError, match="HxW"):
        write_mask(tmp_path / "m.png", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="bits"):
        write_mask(tmp_path / "m.png", np.zeros((4, 4), np.float32), bits=12)
    assert not list(tmp_path.iterdir())
