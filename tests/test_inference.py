"""Tests of skycore.inference: model input sizes, input layouts, and probabilities."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from skycore import ImageError, find_model, predict_probability, read_image
from skycore.inference import model_input_size, resize_for_model

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PHOTOS = SHARED / "data" / "photos"
U2NETP = SHARED / "models" / "skyseg-u2netp.onnx"
EGE = SHARED / "models" / "skyseg-ege.onnx"
#: Photos with a clear skyline: sky on top, none in the lower half.
SKY_PHOTOS = ("wikimedia_010.jpg", "wikimedia_036.jpg")
#: Photos without any sky (indoor, a canyon wall).
NO_SKY_PHOTOS = ("wikimedia_002.jpg", "wikimedia_012.jpg", "wikimedia_004.jpg")


@pytest.fixture(scope="module")
def skyline() -> np.ndarray:
    """A panorama with sky in its top fifth and none below 35 % of its height."""
    return read_image(PHOTOS / "wikimedia_010.jpg")


@pytest.mark.parametrize(
    ("height", "width", "expected"),
    [
        (3000, 4000, (320, 448)),
        (4000, 3000, (448, 320)),
        (497, 1600, (224, 704)),
        (1000, 1000, (384, 384)),
        (1, 1, (384, 384)),
        (10, 5000, (32, 4608)),
    ],
)
def test_model_input_size_keeps_aspect_for_dynamic_models(height, width, expected):
    size = model_input_size(find_model(U2NETP), height, width)
    assert size == expected
    assert size[0] % 32 == 0 and size[1] % 32 == 0


def test_model_input_size_aspect_and_area():
    spec = find_model(U2NETP)
    for height, width in [(3000, 4000), (1512, 2016), (4000, 1800), (1200, 1600), (768, 512)]:
        rows, cols = model_input_size(spec, height, width)
        assert abs(np.log((rows / cols) / (height / width))) < 0.15
        assert 0.8 < rows * cols / 384**2 < 1.2


def test_model_input_size_fixed_models_get_their_square():
    assert model_input_size(find_model(EGE), 3000, 4000) == (384, 384)


def test_model_input_size_square_geometry_squashes_the_photo():
    spec = dataclasses.replace(find_model(U2NETP), input_size=320, input_geometry="square")
    assert model_input_size(spec, 3000, 4000) == (320, 320)
    assert model_input_size(spec, 512, 1024) == (320, 320)
    # The project's default model is fed the square it was trained on (models/README.md).
    default = find_model(None)
    assert (default.id, default.input_geometry, default.input_size) == (
        "skyseg-u2netp",
        "square",
        320,
    )
    assert predict_probability(np.zeros((90, 160, 3), np.uint8)).shape == (320, 320)


@pytest.mark.parametrize("name", SKY_PHOTOS)
def test_sky_photo_probability(name):
    image = read_image(PHOTOS / name)
    probability = predict_probability(image, model=U2NETP)
    assert probability.dtype == np.float32
    assert probability.shape == model_input_size(find_model(U2NETP), *image.shape[:2])
    assert probability.min() >= 0 and probability.max() <= 1
    rows = probability.shape[0]
    assert probability[: rows // 20].mean() > 0.95  # top rows are sky
    assert probability[-rows // 2 :].mean() < 0.02  # the lower half is land


@pytest.mark.parametrize("name", NO_SKY_PHOTOS)
def test_photo_without_sky_gives_near_zero_not_noise(name):
    probability = predict_probability(read_image(PHOTOS / name), model=U2NETP)
    # A min-max stretched output would reach 1 somewhere; the model's own probability stays low.
    assert probability.mean() < 0.005
    assert np.percentile(probability, 99) < 0.05


def test_ground_crop_gives_near_zero():
    photo = read_image(PHOTOS / "kodak_kodim13.jpg")
    ground = photo[photo.shape[0] // 2 :]
    probability = predict_probability(ground, model=U2NETP)
    assert probability.mean() < 0.005 and probability.max() < 0.5


def test_input_dtypes_and_layouts_agree(skyline):
    reference = predict_probability(skyline, model=U2NETP)
    alpha = np.random.default_rng(1).integers(0, 256, skyline.shape[:2], np.uint8)
    variants = {
        "uint16": skyline.astype(np.uint16) * 257,
        "float32": skyline.astype(np.float32) / 255,
        "float64": skyline.astype(np.float64) / 255,
        "rgba": np.dstack([skyline, alpha]),
    }
    for name, image in variants.items():
        probability = predict_probability(image, model=U2NETP)
        assert probability.shape == reference.shape, name
        assert np.abs(probability - reference).max() < 0.02, name
        assert np.abs(probability - reference).mean() < 1e-3, name


def test_grayscale_photo(skyline):
    gray = skyline.mean(axis=2).astype(np.uint8)
    probability = predict_probability(gray, model=U2NETP)
    rows = probability.shape[0]
    assert probability[: rows // 20].mean() > 0.95
    assert probability[-rows // 2 :].mean() < 0.02


def test_fixed_size_minmax_model_agrees_with_u2netp(skyline):
    ege = predict_probability(skyline, model=EGE)
    assert ege.shape == (384, 384)
    assert ege[:19].mean() > 0.95 and ege[-192:].mean() < 0.02


def test_one_pixel_image():
    probability = predict_probability(np.array([[[10, 200, 30]]], np.uint8), model=U2NETP)
    assert probability.shape == (384, 384) and np.isfinite(probability).all()


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.full((64, 64, 3), np.nan, np.float32), "NaN"),
        (np.zeros((64, 64, 2), np.uint8), "shape"),
        (np.zeros((0, 64, 3), np.uint8), "empty"),
        (np.zeros((64, 64, 3), np.int64), "dtype int64"),
    ],
    ids=["nan", "two-channels", "empty", "int64"],
)
def test_bad_images_are_refused(image, message):
    with pytest.raises(ImageError, match=message):
        predict_probability(image, model=U2NETP)


def test_single_nan_pixel_in_large_photo_is_refused(skyline):
    image = skyline.astype(np.float32) / 255
    image[123, 457, 2] = np.nan
    with pytest.raises(ImageError, match="NaN"):
        predict_probability(image, model=U2NETP)


def test_resize_for_model_averages_when_shrinking():
    stripes = np.zeros((400, 400, 3), np.uint8)
    stripes[::2] = 255  # one-pixel stripes: averaging gives grey, point sampling black or white
    small = resize_for_model(stripes, 100, 100)
    assert small.shape == (100, 100, 3) and small.dtype == np.float32
    np.testing.assert_allclose(small, 0.5, atol=0.01)


@pytest.mark.parametrize("size", [(3000, 4000), (3001, 4000)], ids=["even", "odd"])
def test_resize_for_model_from_12mp_matches_one_area_step(size):
    photo = read_image(PHOTOS / "skyopt_204315_img.jpg")
    photo = cv2.resize(photo, size[::-1], interpolation=cv2.INTER_CUBIC)
    small = resize_for_model(photo, 448, 320)
    direct = cv2.resize(photo, (320, 448), interpolation=cv2.INTER_AREA) / np.float32(255)
    difference = np.abs(small - direct)
    # Even sides take a halving first: a slightly wider blur, never a visible change.
    assert difference.mean() < 1e-3 and difference.max() < 0.02
    if size[0] % 2:
        assert difference.max() < 1e-6  # odd sides keep the single area step


def test_nan_in_12mp_photo_is_refused_after_halving():
    photo = np.full((3000, 4000), 0.5, np.float32)
    photo[2999, 3999] = np.nan  # the last pixel: a dropped border would miss it
    with pytest.raises(ImageError, match="NaN"):
        resize_for_model(photo, 320, 448)


def test_unnamed_tensors_use_the_graph_first_input_and_output(skyline, tmp_path):
    """A manifest may give null tensor names (a publisher that does not document them)."""
    entry = json.loads((U2NETP.parent / "models.json").read_text())["models"][0]
    shutil.copy(U2NETP, tmp_path / U2NETP.name)
    manifest = {"schema": 1, "models": [{**entry, "input_name": None, "output_name": None}]}
    (tmp_path / "models.json").write_text(json.dumps(manifest))
    spec = find_model(tmp_path / U2NETP.name)
    assert spec.input_name is None and spec.output_name is None
    unnamed = predict_probability(skyline, spec)
    np.testing.assert_array_equal(unnamed, predict_probability(skyline, U2NETP))


def test_mirror_average_is_the_mean_over_the_photo_and_its_mirror(skyline):
    spec = find_model("skyseg-lite")
    assert spec.mirror_average  # the shipped model's manifest turns it on
    plain = predict_probability(skyline, spec, mirror_average=False)
    of_mirror = predict_probability(skyline[:, ::-1], spec, mirror_average=False)
    averaged = predict_probability(skyline, spec)
    np.testing.assert_allclose(averaged, (plain + of_mirror[:, ::-1]) / 2, atol=1e-6)
    # The two passes really differ: the model is not mirror-symmetric by itself.
    assert np.abs(plain - of_mirror[:, ::-1]).max() > 0.01
    assert not find_model(U2NETP).mirror_average
    np.testing.assert_array_equal(
        predict_probability(skyline, U2NETP),
        predict_probability(skyline, U2NETP, mirror_average=False),
    )
