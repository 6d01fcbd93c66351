"""Placing a new sky image over a photo's sky region.

The sky image is scaled, keeping its aspect, until it covers the bounding box of the sky
region, and anchored at that region's bottom (the horizon) so the sky's own horizon lines up
with the photo's. Whatever the scaled image does not reach (below the horizon, or everywhere
after a zoom-out or a large offset) is filled by mirroring it at its border, so the placed sky
always covers the whole canvas and soft mask edges never show an empty background.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ImageError
from ..image import as_float_rgb
from ._validate import check_range

#: Smallest sky image accepted, in pixels on either side.
MIN_SKY_SIDE = 16
#: Mask value above which a pixel counts as sky for locating the sky region.
SKY_THRESHOLD = 0.5
#: Share of sky pixels ignored at each end when locating the sky region, so a few stray
#: pixels (a reflection in water, a misclassified window) do not stretch it.
REGION_TRIM = 0.005
#: Masks are measured at this many pixels on the long side: locating a bounding box does not
#: need full resolution.
_MEASURE_SIDE = 512

ANCHORS = ("horizon", "top")


@dataclass(frozen=True)
class SkyPlacement:
    """Where and how large the sky image was placed on the photo.

    Attributes
    ----------
    scale : float
        Photo pixels per sky-image pixel (the cover scale times the user's ``scale``).
    left, top : float
        Position of the (flipped, if ``flip``) sky image's top-left corner in photo pixels;
        may be negative.
    flip : bool
        Whether the sky image was mirrored left-right before placing.
    horizon : int
        Photo row of the bottom of the sky region.
    region : tuple of int
        ``(x0, y0, x1, y1)``: the sky region's bounding box, end-exclusive.
    upscale : float
        ``scale`` if above 1 (the sky image was enlarged), else 1.
    """

    scale: float
    left: float
    top: float
    flip: bool
    horizon: int
    region: tuple[int, int, int, int]
    upscale: float

    @property
    def matrix(self) -> np.ndarray:
        """2x3 float64 affine map from (flipped) sky-image pixels to photo pixels."""
        return np.array([[self.scale, 0.0, self.left], [0.0, self.scale, self.top]])


def sky_region(mask: np.ndarray, *, threshold: float = SKY_THRESHOLD) -> tuple[int, int, int, int]:
    """Bounding box of the sky in a mask, ignoring the outermost :data:`REGION_TRIM` of it.

    Parameters
    ----------
    mask : ndarray
        float ``HxW`` in ``[0, 1]``, 1 = sky.
    threshold : float, optional
        Mask value above which a pixel is sky.

    Returns
    -------
    tuple of int
        ``(x0, y0, x1, y1)`` in full-resolution pixels, end-exclusive.

    Raises
    ------
    ImageError
        If no pixel is above ``threshold``.
    """
    height, width = mask.shape
    factor = min(1.0, _MEASURE_SIDE / max(height, width))
    small = mask
    if factor < 1.0:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        small = cv2.resize(mask, size, interpolation=cv2.INTER_AREA)
    sky = small > threshold
    rows = sky.sum(axis=1, dtype=np.float64)
    cols = sky.sum(axis=0, dtype=np.float64)
    if rows.sum() == 0:
        raise ImageError("the sky mask has no sky (no value above 0.5)")
    y0, y1 = _trimmed_span(rows)
    x0, x1 = _trimmed_span(cols)
    sy, sx = height / small.shape[0], width / small.shape[1]
    return (
        int(np.floor(x0 * sx)),
        int(np.floor(y0 * sy)),
        min(width, int(np.ceil(x1 * sx))),
        min(height, int(np.ceil(y1 * sy))),
    )


def _trimmed_span(counts: np.ndarray) -> tuple[int, int]:
    cumulative = np.cumsum(counts) / counts.sum()
    start = int(np.searchsorted(cumulative, REGION_TRIM, side="right"))
    stop = int(np.searchsorted(cumulative, 1.0 - REGION_TRIM, side="left")) + 1
    return start, max(stop, start + 1)


def fit_sky(
    sky: np.ndarray,
    mask: np.ndarray,
    *,
    scale: float = 1.0,
    offset_x: float = 0.0,
    offset_y: float = 0.0,
    flip: bool = False,
    anchor: str = "horizon",
) -> tuple[np.ndarray, SkyPlacement]:
    """Scale and place a sky image so it covers the sky region of a photo.

    Parameters
    ----------
    sky : ndarray
        The new sky: ``HxW``, ``HxWx3`` or ``HxWx4``, uint8, uint16 or float in ``[0, 1]``;
        any size of at least :data:`MIN_SKY_SIDE` pixels (smaller images are enlarged).
    mask : ndarray
        float ``HxW`` sky mask of the photo, 1 = sky; its shape is the output size.
    scale : float, optional
        Zoom on top of the scale that just covers the sky region, in ``[0.25, 8]``.
    offset_x, offset_y : float, optional
        Shift of the sky in ``[-1, 1]`` as a fraction of the photo's width / height;
        positive moves it right / down.
    flip : bool, optional
        Mirror the sky image left-right.
    anchor : {'horizon', 'top'}, optional
        Put the sky image's bottom edge at the bottom of the sky region (``'horizon'``), or
        its top edge at the top of the sky region (``'top'``). Either way it is centred
        horizontally on the sky region.

    Returns
    -------
    placed : ndarray
        float32 ``HxWx3`` in ``[0, 1]``, the sky covering the whole canvas.
    placement : SkyPlacement
        The scale and position used.

    Raises
    ------
    ImageError
        If the sky image is smaller than :data:`MIN_SKY_SIDE`, or the mask has no sky.
    ValueError
        For an option out of range.
    """
    check_range("scale", scale, 0.25, 8.0)
    check_range("offset_x", offset_x, -1.0, 1.0)
    check_range("offset_y", offset_y, -1.0, 1.0)
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {ANCHORS}, got {anchor!r}")
    sky_rgb = as_float_rgb(sky)
    sky_h, sky_w = sky_rgb.shape[:2]
    if min(sky_h, sky_w) < MIN_SKY_SIDE:
        raise ImageError(
            f"the sky image is {sky_w}x{sky_h} pixels; it needs at least "
            f"{MIN_SKY_SIDE} pixels on each side"
        )
    height, width = mask.shape
    x0, y0, x1, y1 = sky_region(mask)
    factor = max((x1 - x0) / sky_w, (y1 - y0) / sky_h) * scale
    if flip:
        sky_rgb = sky_rgb[:, ::-1]
    left = (x0 + x1) / 2 - sky_w * factor / 2 + offset_x * width
    if anchor == "horizon":
        top = y1 - sky_h * factor + offset_y * height
    else:
        top = y0 + offset_y * height
    placement = SkyPlacement(
        scale=float(factor),
        left=float(left),
        top=float(top),
        flip=bool(flip),
        horizon=int(y1),
        region=(x0, y0, x1, y1),
        upscale=float(max(factor, 1.0)),
    )
    return _warp(sky_rgb, placement, width, height), placement


def _warp(sky: np.ndarray, placement: SkyPlacement, width: int, height: int) -> np.ndarray:
    matrix = placement.matrix
    if placement.scale < 1.0:
        # Shrinking with a bilinear warp would alias clouds into noise: shrink by area first,
        # then only translate.
        size = (
            max(1, round(sky.shape[1] * placement.scale)),
            max(1, round(sky.shape[0] * placement.scale)),
        )
        # Rounding the size changes the scale slightly; keep the exact footprint.
        matrix = np.array(
            [
                [placement.scale * sky.shape[1] / size[0], 0.0, placement.left],
                [0.0, placement.scale * sky.shape[0] / size[1], placement.top],
            ]
        )
        sky = cv2.resize(sky, size, interpolation=cv2.INTER_AREA)
    placed = cv2.warpAffine(
        np.ascontiguousarray(sky),
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    return np.clip(placed, 0.0, 1.0, out=placed)
