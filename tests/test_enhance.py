"""Tests of skycore.enhance: Enhance Sky against known answers made from real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage.color import deltaE_ciede2000, rgb2lab

from benchmarks.bench_enhance import CAST, low_light
from skycore import ImageError, read_image, sky_mask
from skycore.enhance import (
    NOTHING_MEASURED,
    SKY_LOCUS,
    WARM,
    enhance_sky,
    measure_sky,
    noise_level,
    sky_cast,
)
from skycore.image import shrink_to_side

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PHOTOS = DATA / "photos"
WEATHER = DATA / "weather-photos"


@pytest.fixture(scope="module")
def night_city():
    """A clean night photo (Wikimedia Commons, see ../shared), its mask and a low-light
    copy with a 3500 K cast and 60 electrons at white."""
    clean = shrink_to_side(read_image(PHOTOS / "wikimedia_003.jpg"), 800)
    mask = sky_mask(clean)
    return clean, mask, low_light(clean, 60.0)


def sky_mean_lab(image, sky):
    return rgb2lab((image[sky].astype(np.float64) / 255).mean(axis=0)[None, None])


def test_low_light_sky_is_cleaned_and_its_cast_removed(night_city):
    clean, mask, noisy = night_city
    result = enhance_sky(noisy, mask)
    sky = mask >= 0.98
    before = noisy[sky].astype(np.float64) - clean[sky]
    after = result.image[sky].astype(np.float64) - clean[sky]
    assert after.std(axis=0).mean() < 0.5 * before.std(axis=0).mean()
    psnr_gain = 10 * np.log10(np.mean(before**2) / np.mean(after**2))
    assert psnr_gain > 3.0
    assert deltaE_ciede2000(sky_mean_lab(result.image, sky), sky_mean_lab(clean, sky)) < 3.0
    # The measured cast is the one applied (ln R/G, ln B/G of CAST).
    np.testing.assert_allclose(result.measured.cast, np.log(CAST[[0, 2]]), atol=0.06)


def test_the_foreground_keeps_its_pixels_bit_for_bit(night_city):
    _, mask, noisy = night_city
    result = enhance_sky(noisy, mask)
    untouched = result.alpha == 0
    assert untouched.mean() > 0.3
    np.testing.assert_array_equal(result.image[untouched], noisy[untouched])
    assert result.image.dtype == np.uint8
    # The layer GIMP masks: enhanced where alpha > 0, the photo elsewhere.
    np.testing.assert_array_equal(result.sky[untouched], noisy[untouched])


def test_no_halo_above_a_dark_horizon():
    """A noisy sky over a black foreground: the sky next to the horizon keeps its level."""
    rng = np.random.default_rng(1)
    image = np.zeros((200, 300, 3), np.float32)
    image[:100] = [0.35, 0.4, 0.6]
    image[:100] += rng.normal(0, 0.04, (100, 300, 3)).astype(np.float32)
    mask = np.zeros((200, 300), np.float32)
    mask[:100] = 1
    result = enhance_sky(np.clip(image, 0, 1), mask, white_balance=0)
    next_to_horizon = result.image[94:100].reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(next_to_horizon, [0.35, 0.4, 0.6], atol=0.01)
    assert result.image[94:100].reshape(-1, 3).std(axis=0).max() < 0.5 * 0.04


def test_stars_survive_the_noise_reduction():
    rng = np.random.default_rng(2)
    sky = np.full((240, 320, 3), 0.1, np.float32) + rng.normal(0, 0.02, (240, 320, 3))
    stars = (rng.integers(0, 240, 40), rng.integers(0, 320, 40))
    sky[stars] = 0.9
    result = enhance_sky(np.clip(sky, 0, 1).astype(np.float32), np.ones((240, 320), np.float32))
    assert result.measured.noise == pytest.approx(0.02 * 0.6, rel=0.3)  # luma of RGB noise
    assert result.image[stars].mean() > 0.6
    assert (
        np.delete(result.image.reshape(-1, 3), np.ravel_multi_index(stars, (240, 320)), 0)
        .std(axis=0)
        .mean()
        < 0.01
    )


def test_a_clear_day_sky_is_left_as_it_is():
    photo = shrink_to_side(read_image(PHOTOS / "wikimedia_006.jpg"), 800)
    result = enhance_sky(photo, sky_mask(photo))
    measured = result.measured
    assert measured.cast == (0.0, 0.0)
    assert measured.night == 0.0 and measured.brightness == 0.0 and measured.contrast == 0.0
    assert np.abs(result.image.astype(np.int16) - photo).mean() < 0.5


@pytest.mark.parametrize("name", ["sunrise_test_56.jpg", "sunrise_test_62.jpg"])
def test_a_sunset_keeps_its_colours(name):
    """A sunset's orange is the sky's own, not city light's: in daylight (a bright sky with
    little noise) no cast is removed, and the photo hardly changes."""
    photo = shrink_to_side(read_image(WEATHER / name), 800)
    result = enhance_sky(photo, sky_mask(photo))
    assert result.measured.cast == (0.0, 0.0)
    assert np.abs(result.image.astype(np.int16) - photo).mean() < 1.5


def test_sky_cast_follows_the_locus():
    violet, blue = SKY_LOCUS
    for on_locus in (np.zeros(2), 0.5 * violet, 0.7 * blue, 0.3 * violet + 0.3 * blue):
        np.testing.assert_array_equal(sky_cast(on_locus), 0.0)
    # A twilight sky under warm light: the warm shift is found and removed in full.
    np.testing.assert_allclose(sky_cast(0.4 * violet + 0.3 * WARM), 0.3 * WARM, atol=1e-9)
    # A green sky goes to the nearest plausible colour.
    assert np.hypot(*sky_cast(np.array([-0.2, -0.2]))) > 0.1
    # Small casts are left alone.
    np.testing.assert_array_equal(sky_cast(0.02 * WARM), 0.0)


def test_depths_and_layouts_are_kept(night_city):
    _, mask, noisy = night_city
    as_uint16 = noisy.astype(np.uint16) * 257
    result16 = enhance_sky(as_uint16, mask)
    result8 = enhance_sky(noisy, mask)
    assert result16.image.dtype == np.uint16
    assert np.abs(result16.image / 257.0 - result8.image).mean() < 0.5
    as_float = noisy.astype(np.float32) / 255
    assert enhance_sky(as_float, mask).image.dtype == np.float32
    rgba = np.dstack([noisy, np.full(mask.shape, 7, np.uint8)])
    result_rgba = enhance_sky(rgba, mask)
    assert result_rgba.image.shape == rgba.shape
    assert (result_rgba.image[..., 3] == 7).all()
    grey = enhance_sky(noisy[..., 1], mask)
    assert grey.image.shape == mask.shape


def test_no_sky_measures_nothing_and_changes_nothing():
    photo = read_image(PHOTOS / "kodak_kodim01.jpg")
    mask = np.zeros(photo.shape[:2], np.float32)
    assert measure_sky(photo, mask) == NOTHING_MEASURED
    result = enhance_sky(photo, mask)
    np.testing.assert_array_equal(result.image, photo)


def test_noise_level_reads_white_noise():
    rng = np.random.default_rng(3)
    luma = (0.5 + rng.normal(0, 0.03, (300, 300))).astype(np.float32)
    assert noise_level(luma, np.ones_like(luma, bool)) == pytest.approx(0.03, rel=0.05)


def test_the_callers_mask_is_left_alone_and_a_wrong_mask_is_refused(night_city):
    _, mask, noisy = night_city
    faint = np.where(mask > 0.5, mask, np.float32(0.001))
    kept = faint.copy()
    result = enhance_sky(noisy, faint)
    np.testing.assert_array_equal(faint, kept)
    assert result.alpha.dtype == np.float32 and (result.alpha[mask <= 0.5] == 0).all()
    with pytest.raises(ImageError, match="the mask is"):
        enhance_sky(noisy, mask[:-1])


def test_options_are_checked(night_city):
    _, mask, noisy = night_city
    with pytest.raises(ValueError, match="denoise"):
        enhance_sky(noisy, mask, denoise=-1)
    with pytest.raises(ValueError, match="white_balance"):
        enhance_sky(noisy, mask, white_balance=1.5)
