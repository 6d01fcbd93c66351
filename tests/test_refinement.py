"""Tests of skycore.refinement: fidelity to the original C++, and behaviour on known cases."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from skycore import predict_probability, refine
from skycore.errors import ImageError
from skycore.metrics import mask_metrics
from skycore.refinement import confidence_from_probability
from training.composites import held_out_skies, list_landscapes, make_composite

SEED_EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "seed-eval"
SEED_CASES = sorted(p.stem for p in SEED_EVAL.glob("*.jpg"))


def _read_rgb(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("name", SEED_CASES)
def test_cpp_compatible_reproduces_the_original(name: str) -> None:
    photo = _read_rgb(SEED_EVAL / f"{name}.jpg")
    probability = cv2.imread(str(SEED_EVAL / f"{name}.png"))[..., 2].astype(np.float32) / 255
    expected = cv2.imread(str(SEED_EVAL / f"{name}_result.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    mask = refine(photo, probability, cpp_compatible=True)
    assert mask.shape == expected.shape and mask.dtype == np.float32
    # The original writes 8-bit PNGs: compare after the same rounding.
    difference = np.abs(np.round(mask * 255) / 255 - expected).mean()
    assert difference <= 0.005


def test_seed_eval_has_cases() -> None:
    assert len(SEED_CASES) >= 8


def test_confidence_follows_paper_equations() -> None:
    p = np.array([0.0, 0.15, 0.29, 0.3, 0.4, 0.5, 0.51, 0.75, 1.0], np.float32)
    confidence = confidence_from_probability(p)

    def schlick(x: float, b: float = 0.8) -> float:
        return x / ((1 / b - 2) * (1 - x) + 1)

    expected = [
        1.0,
        schlick(0.5),
        max(schlick(0.01 / 0.3), 0.01),
        0.0,
        0.0,
        0.0,
        max(schlick(0.02), 0.01),
        schlick(0.5),
        1.0,
    ]
    np.testing.assert_allclose(confidence, expected, rtol=1e-5, atol=1e-6)


def _skyline_scene(height: int = 600, width: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """A flat blue sky over a textured green ground with a jagged skyline; exact mask."""
    rng = np.random.default_rng(3)
    columns = np.arange(width)
    horizon = (0.55 * height + 40 * np.sin(columns / 23.0) + 25 * (columns % 37 < 6)).astype(int)
    rows = np.arange(height)[:, None]
    truth = (rows < horizon[None, :]).astype(np.float32)
    sky = np.array([0.35, 0.55, 0.9], np.float32)
    ground = np.array([0.2, 0.35, 0.1], np.float32) + rng.uniform(
        -0.08, 0.08, (height, width, 1)
    ).astype(np.float32)
    image = truth[..., None] * sky + (1 - truth[..., None]) * ground
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), truth


def _network_like(truth: np.ndarray, size: int = 48) -> np.ndarray:
    """A soft, low-resolution probability, as a segmentation network gives."""
    small = cv2.resize(truth, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (5, 5), 1.0)


def test_flat_sky_over_sharp_skyline_gives_sharp_mask() -> None:
    image, truth = _skyline_scene()
    probability = _network_like(truth)
    mask = refine(image, probability)
    upsampled = cv2.resize(probability, truth.shape[::-1], interpolation=cv2.INTER_LINEAR)
    refined_error = np.abs(mask - truth).mean()
    bilinear_error = np.abs(upsampled - truth).mean()
    assert refined_error < 0.015
    assert refined_error < bilinear_error / 2.5
    # Sharp: few pixels are neither sky nor ground (bilinear: 7 % here).
    assert ((mask > 0.1) & (mask < 0.9)).mean() < 0.03


def test_photo_without_sky_gives_zero_mask() -> None:
    image, _ = _skyline_scene()
    probability = np.full((48, 48), 0.02, np.float32)
    mask = refine(image, probability)
    assert mask.max() < 0.02


def test_all_sky_gives_full_mask() -> None:
    image, _ = _skyline_scene()
    probability = np.full((48, 48), 0.98, np.float32)
    mask = refine(image, probability)
    assert mask.min() > 0.97


def test_uncertain_everywhere_does_not_break() -> None:
    image, _ = _skyline_scene()
    mask = refine(image, np.full((48, 48), 0.4, np.float32))
    assert np.isfinite(mask).all() and 0 <= mask.min() and mask.max() <= 1


@pytest.mark.parametrize("cpp_compatible", [False, True])
def test_depths_and_layouts_agree(cpp_compatible: bool) -> None:
    image8, truth = _skyline_scene(300, 400)
    probability = _network_like(truth)
    reference = refine(image8, probability, cpp_compatible=cpp_compatible)
    variants = {
        "uint16": image8.astype(np.uint16) * 257,
        "float32": image8.astype(np.float32) / 255,
        "float64": image8.astype(np.float64) / 255,
        "rgba": np.dstack([image8, np.full(image8.shape[:2], 7, np.uint8)]),
    }
    for name, image in variants.items():
        mask = refine(image, probability, cpp_compatible=cpp_compatible)
        assert np.abs(mask - reference).mean() < 1e-3, name
        # The uint8 photo's working grid is area-averaged in uint8, rounded to 1/255.
        assert np.abs(mask - reference).max() < 0.025, name
    green = image8[..., 1]
    gray = refine(green, probability, cpp_compatible=cpp_compatible)
    stacked = refine(np.dstack([green] * 3), probability, cpp_compatible=cpp_compatible)
    assert gray.shape == truth.shape and np.abs(gray - stacked).max() < 0.01


def test_photo_sized_probability_gives_the_same_mask() -> None:
    """The grid follows the photo: the model's 320-px probability and the same upsampled to
    the photo (as other tools save masks) give one mask. Measured on this photo at 1152 x
    864: mean difference 0.00097, 0.08 % of pixels on the other side of 0.5."""
    photo = cv2.resize(
        _read_rgb(SEED_EVAL / "test_850.jpg"), (1152, 864), interpolation=cv2.INTER_AREA
    )
    probability = predict_probability(photo)
    full = cv2.resize(probability, (1152, 864), interpolation=cv2.INTER_LINEAR)
    small_mask, full_mask = refine(photo, probability), refine(photo, full)
    assert np.abs(small_mask - full_mask).mean() < 0.002
    assert ((small_mask > 0.5) != (full_mask > 0.5)).mean() < 0.002


def test_smoothing_keeps_mask_in_range() -> None:
    image, truth = _skyline_scene(300, 400)
    mask = refine(image, _network_like(truth), smoothing=True)
    assert mask.dtype == np.float32 and 0 <= mask.min() and mask.max() <= 1
    assert np.abs(mask - truth).mean() < 0.02


def test_bad_inputs_are_refused() -> None:
    image, truth = _skyline_scene(60, 80)
    with pytest.raises(ValueError, match="NaN"):
        refine(image, np.full((8, 8), np.nan, np.float32))
    with pytest.raises(ValueError, match="HxW"):
        refine(image, np.zeros((0, 4), np.float32))
    with pytest.raises(ImageError, match="shape"):
        refine(np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4), np.float32))
    with pytest.raises(ImageError, match="empty"):
        refine(np.zeros((0, 4, 3), np.uint8), np.zeros((4, 4), np.float32))


def test_default_beats_bilinear_on_exact_composites() -> None:
    """Real skies behind hand-cut Stellarium landscapes, at 1 MP, with the reference model."""
    model = SEED_EVAL.parents[1] / "models" / "skyseg-u2netp.onnx"
    landscapes, skies = list_landscapes(), held_out_skies()
    assert landscapes, "needs the Debian package stellarium-data"
    bilinear, refined = [], []
    for index in range(4):
        image, truth = make_composite(
            landscapes[index % len(landscapes)],
            skies[index % len(skies)],
            size=(1152, 864),
            rng=np.random.default_rng(1000 + index),
            split="held_out",
        )
        probability = predict_probability(image, model)
        upsampled = cv2.resize(probability, (1152, 864), interpolation=cv2.INTER_LINEAR)
        bilinear.append(mask_metrics(upsampled, truth))
        refined.append(mask_metrics(refine(image, probability), truth))
    (iou_b, bf_b, mae_b), (iou_r, bf_r, mae_r) = np.mean(bilinear, 0), np.mean(refined, 0)
    assert iou_r > iou_b and bf_r > bf_b and mae_r < mae_b
