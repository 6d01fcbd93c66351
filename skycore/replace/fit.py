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
from ..image import as_float_rgb, shrink_to_side
from ..options import REPLACE_SKY, check

#: Smallest sky image accepted, in pixels on either side.
MIN_SKY_SIDE = 16
#: Mask value above which a pixel counts as sky for locating the sky region.
SKY_THRESHOLD = 0.5
#: Rows and columns holding less sky than this share of the fullest row / column do not
#: count when locating the sky region, so a few stray pixels (a misclassified window, a
#: glint on water) do not stretch it.
REGION_MIN_SHARE = 0.02
#: Masks are measured at this many pixels on the long side: locating a bounding box does not
#: need full resolution.
_MEASURE_SIDE = 512


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
    """Bounding box of the sky in a mask, ignoring nearly empty rows and columns.

    See :data:`REGION_MIN_SHARE`.

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
    small = shrink_to_side(mask, _MEASURE_SIDE)
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
    kept = np.flatnonzero(counts >= REGION_MIN_SHARE * counts.max())
    return int(kept[0]), int(kept[-1]) + 1


def place_sky(
    sky_size: tuple[int, int],
    mask: np.ndarray,
    *,
    scale: float = 1.0,
    offset_x: float = 0.0,
    offset_y: float = 0.0,
    flip: bool = False,
    anchor: str = "horizon",
) -> SkyPlacement:
    """Decide where a sky image of ``sky_size = (width, height)`` goes; see :func:`fit_sky`."""
    for name, value in (("scale", scale), ("offset_x", offset_x), ("offset_y", offset_y)):
        check(REPLACE_SKY, name, value)
    check(REPLACE_SKY, "anchor", anchor)
    sky_w, sky_h = sky_size
    if min(sky_h, sky_w) < MIN_SKY_SIDE:
        raise ImageError(
            f"the sky image is {sky_w}x{sky_h} pixels; it needs at least "
            f"{MIN_SKY_SIDE} pixels on each side"
        )
    height, width = mask.shape
    x0, y0, x1, y1 = sky_region(mask)
    factor = max((x1 - x0) / sky_w, (y1 - y0) / sky_h) * scale
    left = (x0 + x1) / 2 - sky_w * factor / 2 + offset_x * width
    if anchor == "horizon":
        top = y1 - sky_h * factor + offset_y * height
    else:
        top = y0 + offset_y * height
    return SkyPlacement(
        scale=float(factor),
        left=float(left),
        top=float(top),
        flip=bool(flip),
        horizon=int(y1),
        region=(x0, y0, x1, y1),
        upscale=float(max(factor, 1.0)),
    )


def render_sky(
    sky: np.ndarray, placement: SkyPlacement, size: tuple[int, int], *, zoom: float = 1.0
) -> np.ndarray:
    """Draw a sky image as ``placement`` says on a canvas of ``size = (width, height)``.

    Parameters
    ----------
    sky : ndarray
        float32 ``hxwx3`` sky image (not yet flipped).
    placement : SkyPlacement
        From :func:`place_sky` for the full-size photo.
    size : (int, int)
        Canvas size.
    zoom : float, optional
        Scale of the canvas relative to the photo (e.g. 0.1 for a reduced copy).

    Returns
    -------
    ndarray
        float32 ``HxWx3``: the scaled sky, mirrored at its borders wherever it does not reach.
    """
    if placement.flip:
        sky = sky[:, ::-1]
    width, height = size
    factor = placement.scale * zoom
    left, top = placement.left * zoom, placement.top * zoom
    sky_h, sky_w = sky.shape[:2]
    # Only the part of the sky that lands on the canvas is resized (plus a pixel of context):
    # at scale 8 the whole image would be 64 times the canvas.
    sx0, sx1 = _source_span(left, factor, width, sky_w)
    sy0, sy1 = _source_span(top, factor, height, sky_h)
    crop = np.ascontiguousarray(sky[sy0:sy1, sx0:sx1])
    out_w = max(1, round((sx1 - sx0) * factor))
    out_h = max(1, round((sy1 - sy0) * factor))
    # Area averaging when shrinking, so clouds do not alias into noise.
    interpolation = cv2.INTER_AREA if factor < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(crop, (out_w, out_h), interpolation=interpolation)
    origin_x = round(left + sx0 * factor)
    origin_y = round(top + sy0 * factor)
    keep_x0, keep_y0 = max(0, -origin_x), max(0, -origin_y)
    keep_x1, keep_y1 = min(out_w, width - origin_x), min(out_h, height - origin_y)
    if keep_x1 <= keep_x0 or keep_y1 <= keep_y0:
        return _warp(sky, factor, left, top, width, height)
    visible = resized[keep_y0:keep_y1, keep_x0:keep_x1]
    # Resize is several times faster than a warp; mirroring fills what the sky does not cover.
    return cv2.copyMakeBorder(
        visible,
        origin_y + keep_y0,
        height - (origin_y + keep_y1),
        origin_x + keep_x0,
        width - (origin_x + keep_x1),
        cv2.BORDER_REFLECT,
    )


def _source_span(offset: float, factor: float, canvas: int, length: int) -> tuple[int, int]:
    start = int(np.floor(-offset / factor)) - 1
    stop = int(np.ceil((canvas - offset) / factor)) + 1
    start, stop = max(0, start), min(length, stop)
    if stop - start < 2:
        return 0, length
    return start, stop


def _warp(sky: np.ndarray, factor: float, left: float, top: float, width: int, height: int):
    # The sky lies entirely off the canvas (a far offset after zooming out): only mirrored
    # copies show, which a warp with a mirroring border draws directly.
    if factor < 1.0:
        size = (max(1, round(sky.shape[1] * factor)), max(1, round(sky.shape[0] * factor)))
        scale_x, scale_y = factor * sky.shape[1] / size[0], factor * sky.shape[0] / size[1]
        sky = cv2.resize(np.ascontiguousarray(sky), size, interpolation=cv2.INTER_AREA)
    else:
        scale_x = scale_y = factor
    matrix = np.array([[scale_x, 0.0, left], [0.0, scale_y, top]])
    return cv2.warpAffine(
        np.ascontiguousarray(sky),
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )


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
    sky_rgb = as_float_rgb(sky)
    placement = place_sky(
        (sky_rgb.shape[1], sky_rgb.shape[0]),
        mask,
        scale=scale,
        offset_x=offset_x,
        offset_y=offset_y,
        flip=flip,
        anchor=anchor,
    )
    height, width = mask.shape
    return render_sky(sky_rgb, placement, (width, height)), placement
