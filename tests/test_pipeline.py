"""Tests of skycore.sky_mask: the photo -> mask path in the photo's own depth."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from skycore import predict_probability, read_image, sky_mask

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
U2NETP = SHARED / "models" / "skyseg-u2netp.onnx"
#: A panorama with sky in its top fifth and none below 35 % of its height.
SKYLINE = SHARED / "data" / "photos" / "wikimedia_010.jpg"


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return read_image(SKYLINE)


@pytest.fixture(scope="module")
def reference(photo) -> np.ndarray:
    return sky_mask(photo, model=U2NETP)


def test_sky_mask_of_a_skyline(photo, reference):
    assert reference.shape == photo.shape[:2] and reference.dtype == np.float32
    rows = photo.shape[0]
    assert reference[: rows // 20].mean() > 0.95
    assert reference[int(rows * 0.35) :].mean() < 0.01


@pytest.mark.parametrize("depth", ["uint16", "float32", "float64"])
def test_depths_give_the_same_mask(photo, reference, depth):
    variants = {
        "uint16": lambda: photo.astype(np.uint16) * 257,
        "float32": lambda: photo.astype(np.float32) / 255,
        "float64": lambda: photo / 255.0,
    }
    mask = sky_mask(variants[depth](), model=U2NETP)
    assert mask.shape == reference.shape and mask.dtype == np.float32
    assert np.abs(mask - reference).max() < 0.02


def test_alpha_is_ignored_and_gray_works(photo, reference):
    alpha = np.random.default_rng(2).integers(0, 256, photo.shape[:2], np.uint8)
    rgba = sky_mask(np.dstack([photo, alpha]), model=U2NETP)
    assert np.abs(rgba - reference).max() < 1e-6
    gray = sky_mask(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), model=U2NETP)
    assert gray.shape == reference.shape
    assert ((gray > 0.5) == (reference > 0.5)).mean() > 0.98


def test_without_refinement_is_the_upsampled_probability(photo):
    mask = sky_mask(photo, model=U2NETP, refine_edges=False)
    height, width = photo.shape[:2]
    expected = cv2.resize(predict_probability(photo, model=U2NETP), (width, height))
    np.testing.assert_allclose(mask, np.clip(expected, 0, 1), atol=1e-6)


def test_density_on_an_8bit_photo(photo, reference):
    mask = sky_mask(photo, model=U2NETP, colour_density=True)
    assert mask.shape == reference.shape
    assert ((mask > 0.5) == (reference > 0.5)).mean() > 0.98
