"""Tests of skycore.metrics on masks with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from skycore.metrics import mask_iou, mask_metrics


def test_identical_masks_score_perfectly() -> None:
    truth = np.zeros((100, 100), np.float32)
    truth[:40] = 1
    assert mask_metrics(truth, truth) == (1.0, 1.0, 0.0)


def test_shifted_skyline() -> None:
    truth = np.zeros((100, 100), np.float32)
    truth[:40] = 1
    shifted = np.zeros_like(truth)
    shifted[:50] = 1  # ten rows too many: IoU 40/50; boundary 10 px off, beyond the 2 px tolerance
    iou, f_score, mae = mask_metrics(shifted, truth)
    assert iou == pytest.approx(0.8)
    assert f_score == 0.0
    assert mae == pytest.approx(0.1)
    near = np.zeros_like(truth)
    near[:41] = 1  # one row off: within tolerance
    assert mask_metrics(near, truth)[1] == 1.0


def test_no_sky_in_either_mask() -> None:
    empty = np.zeros((10, 10), np.float32)
    assert mask_metrics(empty, empty) == (1.0, 1.0, 0.0)


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="shapes differ"):
        mask_metrics(np.zeros((2, 2)), np.zeros((3, 3)))


def test_iou_of_float_and_boolean_masks() -> None:
    truth = np.zeros((100, 100), np.float32)
    truth[:40] = 1
    predicted = np.zeros_like(truth)
    predicted[10:60] = 0.7  # 30 sky rows shared, 60 rows in the union
    assert mask_iou(predicted, truth) == pytest.approx(0.5)
    assert mask_iou(predicted > 0.5, truth > 0.5) == pytest.approx(0.5)
    assert mask_iou(predicted, truth, threshold=0.8) == 0.0
    assert mask_iou(np.zeros((4, 4), bool), np.zeros((4, 4), bool)) == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        mask_iou(np.zeros((2, 2)), np.zeros((3, 3)))


def test_ignored_pixels_are_left_out() -> None:
    truth = np.zeros((100, 100), np.float32)
    truth[:40] = 1
    predicted = np.zeros_like(truth)
    predicted[:40] = 1
    predicted[60:80] = 1  # false sky, but only where the truth is unlabelled
    ignore = np.zeros(truth.shape, bool)
    ignore[55:85] = True
    assert mask_iou(predicted, truth) == pytest.approx(0.4 / 0.6)
    assert mask_iou(predicted, truth, ignore=ignore) == 1.0
    assert mask_metrics(predicted, truth, ignore=ignore) == (1.0, 1.0, 0.0)
    # The sky's lower edge lies beside an ignored band: an edge there is not scored.
    truth_beside = np.zeros_like(truth)
    truth_beside[:55] = 1
    assert mask_metrics(predicted, truth_beside, ignore=ignore)[1] == 0.0
    assert mask_metrics(truth_beside, truth_beside, ignore=ignore)[1] == 1.0
    with pytest.raises(ValueError, match="ignore mask"):
        mask_iou(predicted, truth, ignore=np.zeros((3, 3), bool))
