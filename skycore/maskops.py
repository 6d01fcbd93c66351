"""Edits of a finished sky mask: move its edge, soften it, invert it.

These are the mask options the GIMP plug-in and the CLI offer on top of :func:`skycore.sky_mask`.
All functions take and return float32 ``HxW`` masks in ``[0, 1]`` (1 = sky).
"""

from __future__ import annotations

import cv2
import numpy as np

#: GIMP's feather turns a radius into a Gaussian standard deviation with this divisor
#: (``gimp_gegl_apply_feather``), so a feather of N px here looks like GIMP's feather of N px.
FEATHER_RADIUS_PER_SIGMA = 3.5

#: shift_edge grows or shrinks in steps of a disc of this radius (the speed/roundness sweet
#: spot of OpenCV's morphology on a 12 MP mask: 0.07 s per step).
DISC_STEP = 5


def _as_mask(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0:
        raise ValueError(f"expected a non-empty HxW mask, got an array of shape {mask.shape}")
    return np.ascontiguousarray(mask, dtype=np.float32)


def _disc(radius: int) -> np.ndarray:
    # The lattice points within the radius; OpenCV's MORPH_ELLIPSE reaches past it, and
    # repeated steps would add up the excess.
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return (x * x + y * y <= radius * radius).astype(np.uint8)


def shift_edge(mask: np.ndarray, pixels: float) -> np.ndarray:
    """Grow (``pixels > 0``) or shrink (``pixels < 0``) the sky region.

    Grey-level dilation or erosion with a disc of radius ``|pixels|`` (built from steps of
    :data:`DISC_STEP` px), so soft edges keep their profile and move as a whole.

    Parameters
    ----------
    mask : ndarray
        float ``HxW`` mask in ``[0, 1]``.
    pixels : float
        Distance in pixels; rounded to whole pixels. 0 returns the mask unchanged.

    Returns
    -------
    ndarray
        float32 ``HxW``.

    Examples
    --------
    >>> m = np.zeros((5, 5), np.float32); m[2, 2] = 1
    >>> int(shift_edge(m, 1).sum())
    5
    """
    mask = _as_mask(mask)
    radius = int(round(abs(pixels)))
    if radius == 0:
        return mask
    operation = cv2.dilate if pixels > 0 else cv2.erode
    # Outside the image counts as "same as the border": growing must not pull in non-sky
    # from beyond the frame, nor shrinking eat sky from there.
    border = cv2.BORDER_REPLICATE
    # A disc kernel costs O(radius) per pixel; a disc is the Minkowski sum of smaller discs,
    # so repeated steps of DISC_STEP px cost O(1) per pixel each (the sum of lattice discs stays
    # inside the true disc and reaches at least 94.5 % of its radius in every direction).
    steps, rest = divmod(radius, DISC_STEP)
    for step_radius, count in ((DISC_STEP, steps), (rest, 1)):
        if step_radius and count:
            mask = operation(mask, _disc(step_radius), iterations=count, borderType=border)
    return mask


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """Soften the mask's edge with a Gaussian blur, matching GIMP's *Feather* of ``radius`` px.

    Parameters
    ----------
    mask : ndarray
        float ``HxW`` mask in ``[0, 1]``.
    radius : float
        Feather radius in pixels (GIMP's meaning: standard deviation ``radius / 3.5``).
        0 returns the mask unchanged.

    Returns
    -------
    ndarray
        float32 ``HxW`` in ``[0, 1]``.
    """
    mask = _as_mask(mask)
    if radius < 0:
        raise ValueError(f"feather radius must be >= 0, got {radius}")
    if radius == 0:
        return mask
    sigma = radius / FEATHER_RADIUS_PER_SIGMA
    blurred = cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REPLICATE)
    return np.clip(blurred, 0.0, 1.0, out=blurred)


def invert(mask: np.ndarray) -> np.ndarray:
    """Everything but the sky: ``1 - mask``."""
    mask = _as_mask(mask)
    return np.subtract(np.float32(1.0), mask, dtype=np.float32)


# adjust_mask's keywords are the option names (skycore.options), which are also the names of
# the functions above.
_shift_edge, _feather, _invert = shift_edge, feather, invert


def adjust_mask(
    mask: np.ndarray,
    *,
    shift_edge: float = 0.0,
    feather: float = 0.0,
    invert: bool = False,
) -> np.ndarray:
    """Apply the mask options in the order a user expects: move the edge, soften, invert.

    Parameters
    ----------
    mask : ndarray
        float ``HxW`` mask in ``[0, 1]``.
    shift_edge : float, optional
        Pixels to grow (> 0) or shrink (< 0) the sky, see :func:`shift_edge`.
    feather : float, optional
        Feather radius in pixels, see :func:`feather`.
    invert : bool, optional
        Return the complement (select everything but the sky).

    Returns
    -------
    ndarray
        float32 ``HxW`` in ``[0, 1]``.
    """
    result = _shift_edge(mask, shift_edge)
    result = _feather(result, feather)
    if invert:
        result = _invert(result)
    return result
