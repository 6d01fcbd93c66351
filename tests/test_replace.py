"""Tests of sky replacement: known-truth composites, halos, options and bad input.

The known truth comes from Stellarium landscape panoramas (Debian package
``stellarium-data``): their sky was cut out by hand, so the RGBA files give a real foreground
colour ``F`` and an exact soft alpha ``a`` at tree edges. Laid over sky A, the photo is
``a F + (1 - a) A``; replacing A by sky B must give ``a F + (1 - a) B``. Skies and photos come
from ``../shared``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from skycore import ImageError, as_float_rgb, read_image, replace_sky, sky_mask
from skycore.replace import (
    MIN_SKY_SIDE,
    composite,
    defringe,
    fill_from,
    fit_sky,
    foreground_alpha,
    harmonize,
    sky_region,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SKIES = SHARED / "data" / "skies"
PHOTOS = SHARED / "data" / "photos"
U2NETP = SHARED / "models" / "skyseg-u2netp.onnx"
LANDSCAPES = Path("/usr/share/stellarium/landscapes")

#: Blue day sky and red sunset: very different colours, so a halo of one in the other shows.
BLUE = SKIES / "kirainmoe_cumulus_blue.jpg"
SUNSET = SKIES / "skyar_sunset.jpg"
DUSK = SKIES / "crop_skyopt_dusk_gradient.jpg"

needs_stellarium = pytest.mark.skipif(
    not LANDSCAPES.is_dir(), reason="needs the Debian package stellarium-data"
)


def load_sky(path: Path) -> np.ndarray:
    return as_float_rgb(read_image(path))


def landscape(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Foreground colour (float32 HxWx3) and alpha (float32 HxW) of a Stellarium texture."""
    rgba = cv2.imread(str(LANDSCAPES / name), cv2.IMREAD_UNCHANGED)
    rgba = rgba.astype(np.float32) / 255
    return np.ascontiguousarray(rgba[..., 2::-1]), np.ascontiguousarray(rgba[..., 3])


def known_composite(name: str, old_sky: Path, new_sky: Path):
    """Photo over the old sky, its exact mask, the truth over the new sky, and the skies."""
    colour, alpha = landscape(name)
    mask = 1.0 - alpha
    placed_old = fit_sky(load_sky(old_sky), mask)[0]
    placed_new = fit_sky(load_sky(new_sky), mask)[0]
    a = alpha[..., None]
    photo = np.clip(a * colour + (1 - a) * placed_old, 0, 1)
    truth = a * colour + (1 - a) * placed_new
    return photo.astype(np.float32), mask, truth, placed_old, placed_new


def edge_band(mask: np.ndarray) -> np.ndarray:
    return (mask > 0.02) & (mask < 0.98)


def halo(result, truth, placed_old, placed_new, band) -> float:
    """Mean displacement of the result from the truth towards the old sky, in the band."""
    direction = placed_old - placed_new
    length = np.linalg.norm(direction, axis=2) + 1e-6
    return float((((result - truth) * direction).sum(axis=2) / length)[band].mean())


# --- known truth ---------------------------------------------------------------------------


@needs_stellarium
@pytest.mark.parametrize(
    "name, old_sky, new_sky",
    [
        ("hurricane/hurricane1.png", BLUE, SUNSET),
        ("guereins/guereins2.png", BLUE, SUNSET),
        ("hurricane/hurricane1.png", DUSK, BLUE),
    ],
)
def test_known_composite_comes_close_to_truth(name, old_sky, new_sky):
    photo, mask, truth, _, placed_new = known_composite(name, old_sky, new_sky)
    result = replace_sky(photo, load_sky(new_sky), mask, amount=0, lighting=0)
    np.testing.assert_array_equal(result.sky, placed_new)
    error = np.abs(result.composite - truth)
    band = edge_band(mask)
    assert error.mean() * 255 < 0.2  # measured 0.02-0.03
    assert error[band].mean() * 255 < 2.5  # measured 0.99-1.51 (plain blend: 4.5-22.5)
    plain = replace_sky(photo, load_sky(new_sky), mask, amount=0, lighting=0, defringe=False)
    assert error[band].mean() < 0.3 * np.abs(plain.composite - truth)[band].mean()


@needs_stellarium
@pytest.mark.parametrize("name", ["hurricane/hurricane1.png", "guereins/guereins2.png"])
def test_defringe_leaves_no_halo_of_the_old_sky(name):
    photo, mask, truth, placed_old, placed_new = known_composite(name, BLUE, SUNSET)
    band = edge_band(mask)
    new_sky = load_sky(SUNSET)
    plain = replace_sky(photo, new_sky, mask, amount=0, lighting=0, defringe=False)
    clean = replace_sky(photo, new_sky, mask, amount=0, lighting=0, defringe=True)
    plain_halo = halo(plain.composite, truth, placed_old, placed_new, band)
    clean_halo = halo(clean.composite, truth, placed_old, placed_new, band)
    assert plain_halo * 255 > 10  # measured 16.8 and 35.0 (blue showing through)
    assert abs(clean_halo) * 255 < 1.5  # measured 0.72 and 0.06


@needs_stellarium
def test_defringe_changes_only_edge_pixels():
    photo, mask, *_ = known_composite("hurricane/hurricane1.png", BLUE, SUNSET)
    cleaned = defringe(photo, mask)
    changed = np.any(cleaned != photo, axis=2)
    assert changed.any()
    assert not changed[(mask < 0.5 / 255) | (mask > 1 - 0.5 / 255)].any()  # pure pixels


def test_fill_from_spreads_the_nearest_colours():
    values = np.zeros((64, 64, 3), np.float32)
    values[:, :8] = (1.0, 0.0, 0.0)  # red known on the left
    values[:, -8:] = (0.0, 0.0, 1.0)  # blue known on the right
    weight = np.zeros((64, 64), np.float32)
    weight[:, :8] = weight[:, -8:] = 1.0
    filled = fill_from(values, weight)
    np.testing.assert_array_equal(filled[weight == 1], values[weight == 1])
    assert filled[32, 10, 0] > 0.9 and filled[32, 53, 2] > 0.9  # near each side, its colour
    assert filled[32, 31, 0] == pytest.approx(filled[32, 32, 2], abs=0.1)  # mixed in between
    with pytest.raises(ValueError, match="weight above 0"):
        fill_from(values, np.zeros((64, 64), np.float32))


# --- options -------------------------------------------------------------------------------


def horizon_mask(height=240, width=320, horizon=100):
    """Sky above ``horizon`` over the full width, a two-pixel soft edge."""
    rows = np.arange(height, dtype=np.float32)[:, None]
    return np.repeat(np.clip((horizon - rows) / 2 + 0.5, 0, 1), width, axis=1)


def striped_sky(height=120, width=200):
    """A sky image with a red bottom stripe and a left-to-right brightness ramp."""
    sky = np.zeros((height, width, 3), np.float32)
    sky[..., 2] = np.linspace(0.2, 1.0, width)[None, :]
    sky[-10:] = (1.0, 0.0, 0.0)
    return sky


def test_sky_region_ignores_stray_pixels():
    mask = horizon_mask()
    mask[230, 5] = 1.0  # a lone "sky" pixel near the bottom
    assert sky_region(mask) == (0, 0, 320, 100)


def test_fit_covers_the_sky_region_and_anchors_at_the_horizon():
    mask = horizon_mask()
    placed, placement = fit_sky(striped_sky(), mask)
    assert placed.shape == (240, 320, 3)
    assert placement.horizon == 100
    # Cover: 320 / 200 = 1.6 beats 100 / 120; the aspect is kept.
    assert placement.scale == pytest.approx(1.6)
    # The red stripe (last 10 rows, 16 photo rows) ends at the horizon ...
    assert placed[90, 160, 0] > 0.99 and placed[90, 160, 2] < 0.01
    assert placed[80, 160, 0] < 0.01
    # ... and below it the sky is mirrored, so the canvas has no empty parts.
    np.testing.assert_allclose(placed[100:116], placed[84:100][::-1], atol=1e-5)


def test_anchor_top_puts_the_sky_top_at_the_region_top():
    placed, placement = fit_sky(striped_sky(), horizon_mask(), anchor="top")
    assert placement.top == 0
    assert placed[0, 160, 0] < 0.01  # top of the image, not the red stripe


def test_scale_offset_and_flip_move_the_sky():
    mask, sky = horizon_mask(), striped_sky()
    base, base_placement = fit_sky(sky, mask)
    zoomed, zoomed_placement = fit_sky(sky, mask, scale=2.0)
    assert zoomed_placement.scale == pytest.approx(2 * base_placement.scale)
    assert zoomed_placement.horizon == base_placement.horizon
    # Zoomed in twice as far, the ramp spreads over twice as many photo pixels.
    slope = np.diff(base[50, 100:220, 2]).mean()
    assert np.diff(zoomed[50, 100:220, 2]).mean() == pytest.approx(slope / 2, rel=0.05)
    shifted, _ = fit_sky(sky, mask, offset_x=0.1)  # 32 px right
    np.testing.assert_allclose(shifted[:90, 40:300], base[:90, 8:268], atol=2e-3)
    lowered, _ = fit_sky(sky, mask, offset_y=0.05)  # 12 px down
    assert lowered[100, 160, 0] > 0.99  # the red stripe moved below the old horizon row
    flipped, _ = fit_sky(sky, mask, flip=True)
    np.testing.assert_allclose(flipped[:90], base[:90, ::-1], atol=2e-3)


def test_sky_moved_off_the_canvas_still_covers_it_with_mirrored_copies():
    mask, sky = horizon_mask(), striped_sky()
    placed, placement = fit_sky(sky, mask, scale=0.25, offset_x=1.0)
    assert placement.left >= 320  # the image itself lies right of the canvas
    # Mirrored copies fill it: the blue ramp and the red stripe both show, nothing is empty.
    assert placed[..., 2].max() > 0.5 and placed[..., 0].max() > 0.99
    assert placed.sum(axis=2).min() > 0.1
    corner = placement.matrix @ np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(corner, (placement.left, placement.top))


def test_shift_edge_and_feather_change_the_alpha():
    mask = horizon_mask()
    alpha = foreground_alpha(mask)
    np.testing.assert_allclose(alpha, 1 - mask)
    grown = foreground_alpha(mask, shift_edge=10)
    shrunk = foreground_alpha(mask, shift_edge=-10)
    # Growing the sky by 10 px removes 10 foreground rows over the full width.
    assert alpha.sum() - grown.sum() == pytest.approx(10 * 320, rel=0.02)
    assert shrunk.sum() - alpha.sum() == pytest.approx(10 * 320, rel=0.02)
    faded = foreground_alpha(mask, feather=20)
    soft = lambda a: int(((a > 0.01) & (a < 0.99)).sum())  # noqa: E731
    assert soft(faded) > 5 * soft(alpha)
    assert faded.sum() == pytest.approx(alpha.sum(), rel=0.01)


@pytest.fixture(scope="module")
def landscape_photo():
    """A real photo (mountains under a blue sky) and its model mask."""
    photo = as_float_rgb(read_image(PHOTOS / "wikimedia_013.jpg"))
    return photo, sky_mask(photo, model=U2NETP)


def lab_mean(image, where):
    return cv2.cvtColor(image, cv2.COLOR_RGB2Lab)[where].mean(axis=0)


def test_all_adjustments_off_keeps_the_photo(landscape_photo):
    photo, mask = landscape_photo
    before = photo.copy()
    result = replace_sky(photo, load_sky(SUNSET), mask, defringe=False, amount=0, lighting=0)
    np.testing.assert_array_equal(result.foreground, photo)
    np.testing.assert_array_equal(photo, before)  # the caller's array is untouched
    expected = composite(result.foreground, result.sky, result.alpha)
    np.testing.assert_allclose(result.composite, expected, atol=1e-6)
    np.testing.assert_allclose(
        result.composite,
        result.foreground * result.alpha[..., None] + result.sky * (1 - result.alpha[..., None]),
        atol=1e-5,
    )


def test_amount_moves_the_foreground_with_the_sky(landscape_photo):
    photo, mask = landscape_photo
    ground = mask < 0.1
    night = load_sky(SKIES / "crop_skyopt_night_city_glow.jpg")
    sunset = load_sky(SUNSET)
    base = lab_mean(photo, ground)
    warm = lab_mean(replace_sky(photo, sunset, mask, amount=1, lighting=0).foreground, ground)
    dark = lab_mean(replace_sky(photo, night, mask, amount=1, lighting=0).foreground, ground)
    half = lab_mean(replace_sky(photo, sunset, mask, amount=0.5, lighting=0).foreground, ground)
    assert warm[2] > base[2] + 5  # b*: warmer under a sunset than under the blue sky
    assert base[2] < half[2] < warm[2]
    assert dark[0] < base[0] - 10  # L*: darker under a night sky


def test_brightness_and_temperature(landscape_photo):
    photo, mask = landscape_photo
    sky = load_sky(BLUE)
    ground = mask < 0.1
    base = replace_sky(photo, sky, mask, amount=0, lighting=0).foreground[ground].mean(axis=0)
    brighter = replace_sky(photo, sky, mask, amount=0, lighting=0, brightness=1).foreground
    assert brighter[ground].mean() / base.mean() == pytest.approx(2 ** (1 / 2.2), rel=0.05)
    warm = replace_sky(photo, sky, mask, amount=0, lighting=0, temperature=1).foreground
    cool = replace_sky(photo, sky, mask, amount=0, lighting=0, temperature=-1).foreground
    ratio = lambda image: image[ground][:, 0].mean() / image[ground][:, 2].mean()  # noqa: E731
    assert ratio(warm) > 1.1 * base[0] / base[2] > 1.2 * ratio(cool)


def test_lighting_tints_the_foreground_near_the_horizon(landscape_photo):
    photo, mask = landscape_photo
    sunset = load_sky(SUNSET)
    plain = replace_sky(photo, sunset, mask, amount=0, lighting=0).foreground
    lit = replace_sky(photo, sunset, mask, amount=0, lighting=1).foreground
    x0, y0, x1, y1 = sky_region(mask)
    height = photo.shape[0]
    near = np.zeros(mask.shape, bool)
    near[y1 : y1 + height // 10] = True
    far = np.zeros(mask.shape, bool)
    far[-height // 10 :] = True
    near &= mask < 0.1
    far &= mask < 0.1
    change = np.abs(lit - plain).sum(axis=2)
    assert change[near].mean() > 2 * change[far].mean()
    # Tinted towards the sunset's red: red gains on blue near the horizon.
    red_blue = lambda image: image[near][:, 0].mean() / image[near][:, 2].mean()  # noqa: E731
    assert red_blue(lit) > 1.1 * red_blue(plain)


def test_harmonize_matches_replace_sky(landscape_photo):
    photo, mask = landscape_photo
    placed = fit_sky(load_sky(SUNSET), mask)[0]
    adjusted = harmonize(photo, mask, placed, amount=0.5, lighting=0)
    ground = mask < 0.1
    assert lab_mean(adjusted, ground)[2] > lab_mean(photo, ground)[2] + 2


def test_real_photo_gets_the_new_sky(landscape_photo):
    photo, mask = landscape_photo
    result = replace_sky(photo, load_sky(SUNSET), mask)
    assert result.composite.shape == photo.shape
    assert result.composite.dtype == np.float32
    assert 0 <= result.composite.min() and result.composite.max() <= 1
    sky = mask > 0.99
    np.testing.assert_allclose(result.composite[sky], result.sky[sky], atol=0.01)
    ground = mask < 0.01
    assert np.abs(result.composite[ground] - result.foreground[ground]).max() < 0.01


# --- bad input -----------------------------------------------------------------------------


def test_small_sky_is_enlarged():
    mask = horizon_mask()
    result = replace_sky(np.full((240, 320, 3), 0.3, np.float32), striped_sky(40, 24), mask)
    assert result.placement.upscale == pytest.approx(320 / 24)
    assert result.sky.shape == (240, 320, 3)


def test_tiny_sky_is_refused():
    with pytest.raises(ImageError, match=f"at least {MIN_SKY_SIDE} pixels"):
        fit_sky(np.zeros((10, 100, 3), np.float32), horizon_mask())


def test_grayscale_sky_works():
    gray = (striped_sky()[..., 2] * 255).astype(np.uint8)
    photo = np.full((240, 320, 3), 128, np.uint8)
    result = replace_sky(photo, gray, horizon_mask())
    np.testing.assert_array_equal(result.sky[..., 0], result.sky[..., 2])
    assert result.sky[:80, :, 0].std() > 0.1  # the ramp is there


def test_photo_without_sky_is_refused_with_a_clear_message():
    photo = read_image(PHOTOS / "wikimedia_002.jpg")  # a church interior
    with pytest.raises(ImageError, match="no sky found in the photo"):
        replace_sky(photo, load_sky(BLUE), model=U2NETP)
    with pytest.raises(ImageError, match="no sky found"):
        replace_sky(photo, load_sky(BLUE), np.zeros(photo.shape[:2], np.float32))


@pytest.mark.parametrize(
    "mask, message",
    [
        (np.zeros((10, 10), np.float32), "pass a mask of the photo's size"),
        (np.full((240, 320), np.nan, np.float32), "NaN"),
        (np.zeros((240, 320), np.int32), "unsupported mask dtype"),
    ],
)
def test_bad_masks_are_refused(mask, message):
    with pytest.raises(ImageError, match=message):
        replace_sky(np.zeros((240, 320, 3), np.float32), striped_sky(), mask)


@pytest.mark.parametrize(
    "option, value",
    [
        ("scale", 0.1),
        ("offset_x", 1.5),
        ("shift_edge", 600),
        ("feather", -1),
        ("amount", 2.0),
        ("brightness", 3.0),
        ("temperature", -2.0),
        ("lighting", float("nan")),
    ],
)
def test_options_out_of_range_name_the_option(option, value):
    with pytest.raises(ValueError, match=option):
        replace_sky(
            np.zeros((240, 320, 3), np.float32), striped_sky(), horizon_mask(), **{option: value}
        )


def test_uint8_mask_is_read_as_255_sky():
    mask8 = (horizon_mask() * 255).round().astype(np.uint8)
    photo = np.full((240, 320, 3), 0.5, np.float32)
    result = replace_sky(photo, striped_sky(), mask8)
    np.testing.assert_allclose(result.mask, horizon_mask(), atol=1 / 255)
