"""Tests of the mask edits (shift edge, feather, invert) on real refined-looking masks."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from skycore import maskops

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PHOTO = SHARED / "data" / "photos" / "kodak_kodim01.jpg"


def horizon_mask(height=120, width=160, horizon=60, soft=4):
    """A sky mask whose edge is a soft horizontal ramp centred on row ``horizon``."""
    rows = np.arange(height, dtype=np.float32)[:, None]
    ramp = np.clip((horizon - rows) / soft + 0.5, 0, 1)
    return np.repeat(ramp, width, axis=1).astype(np.float32)


def edge_row(mask, column=80):
    """Row where a column of the mask crosses 0.5, interpolated."""
    values = mask[:, column]
    below = np.nonzero(values < 0.5)[0][0]
    above = below - 1
    return above + (values[above] - 0.5) / (values[above] - values[below])


@pytest.mark.parametrize("pixels", [3, 12, 23, -7, -20])
def test_shift_edge_moves_horizon_by_pixels(pixels):
    mask = horizon_mask()
    moved = maskops.shift_edge(mask, pixels)
    assert moved.dtype == np.float32
    assert edge_row(moved) - edge_row(mask) == pytest.approx(pixels, abs=0.51)


def test_shift_edge_grows_a_point_to_a_round_disc():
    point = np.zeros((301, 301), np.float32)
    point[150, 150] = 1
    grown = maskops.shift_edge(point, 60)
    ys, xs = np.nonzero(grown > 0.5)
    radii = np.hypot(ys - 150, xs - 150)
    area_ratio = len(ys) / (np.pi * 60**2)
    assert 0.93 < area_ratio <= 1.0
    assert radii.max() <= 60.0
    diagonal = np.max(xs[(xs - 150) == (ys - 150)] - 150) * np.sqrt(2)
    assert diagonal > 0.945 * 60


def test_shift_edge_keeps_the_profile_of_a_soft_edge():
    mask = horizon_mask(soft=8)
    moved = maskops.shift_edge(mask, 10)
    np.testing.assert_allclose(moved[30:110, 80], mask[20:100, 80], atol=1e-6)


def test_shift_zero_returns_mask_unchanged():
    mask = horizon_mask()
    np.testing.assert_array_equal(maskops.shift_edge(mask, 0.3), mask)


def test_feather_matches_gimp_sigma_and_keeps_the_edge():
    step = horizon_mask(soft=1e-3)
    feathered = maskops.feather(step, 35)
    assert edge_row(feathered) == pytest.approx(edge_row(step), abs=0.6)
    # A Gaussian edge of sigma 10 rises from 16 % to 84 % over 2 sigma = 20 rows.
    column = feathered[:, 80]
    rise = np.argmax(column < 0.16) - np.argmax(column < 0.84)
    assert rise == pytest.approx(2 * 35 / maskops.FEATHER_RADIUS_PER_SIGMA, abs=1.5)
    assert feathered.min() >= 0 and feathered.max() <= 1


def test_feather_rejects_negative_radius():
    with pytest.raises(ValueError, match="feather radius"):
        maskops.feather(horizon_mask(), -1)


def test_invert_and_adjust_on_photo_sized_mask():
    photo = cv2.imread(str(PHOTO))
    assert photo is not None, PHOTO
    gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255
    inverted = maskops.invert(gray)
    np.testing.assert_allclose(inverted + gray, 1.0, atol=1e-6)
    adjusted = maskops.adjust_mask(gray, shift_edge=4, feather=7, invert=True)
    expected = 1 - maskops.feather(maskops.shift_edge(gray, 4), 7)
    np.testing.assert_allclose(adjusted, expected, atol=1e-6)
    assert adjusted.shape == gray.shape and adjusted.dtype == np.float32


def test_rejects_non_mask_shapes():
    with pytest.raises(ValueError, match="HxW mask"):
        maskops.invert(np.zeros((4, 4, 3), np.float32))
