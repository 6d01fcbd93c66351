"""Measures of a sky mask against a reference mask."""

from __future__ import annotations

import cv2
import numpy as np


def _boundary(mask: np.ndarray) -> np.ndarray:
    binary = mask.astype(np.uint8)
    eroded = cv2.erode(binary, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    return (binary - eroded) > 0


def _distance_to(edges: np.ndarray) -> np.ndarray:
    return cv2.distanceTransform((~edges).astype(np.uint8), cv2.DIST_L2, 3)


def _binary_pair(
    predicted: np.ndarray, truth: np.ndarray, threshold: float, ignore: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if predicted.shape != truth.shape:
        raise ValueError(f"mask shapes differ: {predicted.shape} and {truth.shape}")
    if ignore is None:
        return predicted > threshold, truth > threshold, None
    if ignore.shape != truth.shape:
        raise ValueError(f"ignore mask is {ignore.shape}, the masks are {truth.shape}")
    valid = ~ignore.astype(bool)
    return (predicted > threshold) & valid, (truth > threshold) & valid, valid


def mask_iou(
    predicted: np.ndarray,
    truth: np.ndarray,
    *,
    threshold: float = 0.5,
    ignore: np.ndarray | None = None,
) -> float:
    """Intersection over union of the sky in two masks.

    Parameters
    ----------
    predicted, truth : ndarray
        ``HxW`` masks of the same shape: float in ``[0, 1]`` (1 = sky) or boolean.
    threshold : float, optional
        Float masks count as sky above this value.
    ignore : ndarray or None, optional
        ``HxW`` boolean mask of pixels left out of the score (unlabelled in the truth).

    Returns
    -------
    float
        IoU in ``[0, 1]``; 1.0 when neither mask has any sky.
    """
    pred, true, _ = _binary_pair(predicted, truth, threshold, ignore)
    union = (pred | true).sum()
    return float((pred & true).sum() / union) if union else 1.0


def mask_metrics(
    predicted: np.ndarray,
    truth: np.ndarray,
    *,
    threshold: float = 0.5,
    tolerance: float = 0.0075,
    ignore: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """IoU, boundary F-score and mean absolute error of a sky mask.

    Parameters
    ----------
    predicted, truth : ndarray
        float ``HxW`` masks in ``[0, 1]`` of the same shape (1 = sky).
    threshold : float, optional
        IoU and boundaries are measured on the masks thresholded here.
    tolerance : float, optional
        A boundary pixel counts as matched within this fraction of the image diagonal
        (at least 2 pixels).
    ignore : ndarray or None, optional
        ``HxW`` boolean mask of pixels left out of every score: boundary pixels there are
        not counted, and the edge where sky meets an ignored region is no boundary.

    Returns
    -------
    (float, float, float)
        IoU of the sky, boundary F-score (harmonic mean of boundary precision and recall), and
        the mean absolute difference of the soft masks.
    """
    iou = mask_iou(predicted, truth, threshold=threshold, ignore=ignore)
    pred, true = predicted > threshold, truth > threshold
    pixels = max(2.0, tolerance * float(np.hypot(*truth.shape)))
    pred_edges, true_edges = _boundary(pred), _boundary(true)
    difference = np.abs(predicted.astype(np.float32) - truth.astype(np.float32))
    if ignore is not None:
        # Ignored pixels are unlabelled, so an edge against them (or inside them) is unknown.
        grown = cv2.dilate(ignore.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        pred_edges &= ~grown
        true_edges &= ~grown
        difference = difference[~ignore.astype(bool)]
    if not pred_edges.any() and not true_edges.any():
        f_score = 1.0
    elif not pred_edges.any() or not true_edges.any():
        f_score = 0.0
    else:
        precision = float((_distance_to(true_edges)[pred_edges] <= pixels).mean())
        recall = float((_distance_to(pred_edges)[true_edges] <= pixels).mean())
        f_score = 2 * precision * recall / max(precision + recall, 1e-9)
    mae = float(difference.mean()) if difference.size else 0.0
    return iou, f_score, mae
