"""Tests of skycore.density: the kernel, and sky recovered between branches."""

from __future__ import annotations

import cv2
import numpy as np

from skycore import refine
from skycore.density import colour_density, estimate_uncertain_probability, uncertain_region


def test_kernel_is_gaussian_with_the_right_exponent() -> None:
    bins, sigma = 128, 0.0625  # sigma is 8 bins
    centre = (64 + 0.5) / bins
    density = colour_density(
        np.array([[centre, centre, centre]], np.float32), sigma=sigma, bins=bins
    )
    peak = density[64, 64, 64]
    one_sigma = density[64 + round(sigma * bins), 64, 64]
    two_sigma = density[64 + round(2 * sigma * bins), 64, 64]
    # exp(-d^2 / (2 sigma^2)): 0.607 at one sigma, 0.135 at two (within the binning error).
    assert abs(one_sigma / peak - np.exp(-0.5)) < 0.02
    assert abs(two_sigma / peak - np.exp(-2.0)) < 0.02
    # A probability density: integrates to one over the colour cube.
    assert abs(density.sum() / bins**3 - 1.0) < 1e-3


def test_empty_sample_gives_zero_density() -> None:
    assert not colour_density(np.zeros((0, 3), np.float32)).any()


def _branches_scene() -> tuple[np.ndarray, np.ndarray]:
    """Blue sky over dark ground, with a fringe of thin branches and sky showing between them."""
    height, width = 400, 400
    truth = np.zeros((height, width), np.float32)
    truth[:200] = 1
    fringe = slice(140, 200)
    truth[fringe, ::6] = 0  # vertical twigs, one pixel wide, every 6 pixels
    truth[fringe, 1::6] = 0
    truth[150:200:10, :] = 0  # horizontal branches
    sky = np.array([0.4, 0.6, 0.95], np.float32)
    ground = np.array([0.15, 0.12, 0.08], np.float32)
    image = truth[..., None] * sky + (1 - truth[..., None]) * ground
    return np.round(image * 255).astype(np.uint8), truth


def test_density_recovers_sky_between_branches() -> None:
    image, truth = _branches_scene()
    # The network sees the fringe as mostly foreground at its coarse resolution.
    coarse = cv2.resize(truth, (40, 40), interpolation=cv2.INTER_AREA)
    coarse[14:20] = np.minimum(coarse[14:20], 0.25)
    gaps = truth.astype(bool)
    gaps[:140] = False  # sky pixels inside the fringe only
    without = refine(image, coarse)
    with_density = refine(image, coarse, colour_density=True)
    # Measured: 0.46 without, 0.75 with density estimation.
    assert without[gaps].mean() < 0.5
    assert with_density[gaps].mean() > 0.7
    # And the branches stay foreground.
    branches = ~truth.astype(bool)
    branches[200:] = False
    assert with_density[branches].mean() < 0.05


def test_uncertain_region_is_the_band_and_the_boundary() -> None:
    p = np.zeros((20, 20), np.float32)
    p[:10] = 0.9
    p[0, 0] = 0.4  # uncertain, far from ground
    region = uncertain_region(p, radius=2)
    assert region[0, 0]
    assert region[8:12].all() and not region[13:].any() and not region[2:7, 5:].any()


def test_nothing_changes_without_both_classes() -> None:
    rgb = np.random.default_rng(0).random((30, 30, 3)).astype(np.float32)
    p = np.full((30, 30), 0.9, np.float32)
    np.testing.assert_array_equal(estimate_uncertain_probability(rgb, p), p)
    full = estimate_uncertain_probability(np.repeat(np.repeat(rgb, 2, 0), 2, 1), p)
    assert full.shape == (60, 60) and np.allclose(full, 0.9)
