"""Sky replacement: place a new sky behind a photo's foreground, blend and relight.

:func:`replace_sky` runs the whole chain and returns the pieces separately, so a front end can
build editable layers (the GIMP plug-in) or just save the composite (the CLI):

* ``sky``: the new sky fitted to the photo (:func:`fit_sky`);
* ``alpha``: the foreground's opacity from the sky mask with the edge edits
  (:func:`foreground_alpha`);
* ``foreground``: the photo with its edges defringed (:func:`defringe`) and its colours adapted
  to the new sky (:func:`harmonize`);
* ``composite``: ``foreground * alpha + sky * (1 - alpha)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import ImageError
from ..image import as_float_rgb
from ..models import ModelSpec
from .blend import (
    composite,
    defringe,
    edge_pixels,
    estimate_edge_foreground,
    fill_from,
    foreground_alpha,
    reduce_for_fill,
)
from .fit import MIN_SKY_SIDE, SkyPlacement, fit_sky, place_sky, render_sky, sky_region
from .harmonization import (
    ForegroundAdjustment,
    apply_adjustment,
    harmonize,
    lab_transfer_gains,
    plan_adjustment,
)

#: A photo whose mask holds less sky than this share of its area is refused: there is
#: nothing to replace, and fitting a sky to a few stray pixels would be arbitrary.
MIN_SKY_SHARE = 0.002

__all__ = [
    "MIN_SKY_SHARE",
    "MIN_SKY_SIDE",
    "ForegroundAdjustment",
    "SkyPlacement",
    "SkyReplacement",
    "apply_adjustment",
    "composite",
    "defringe",
    "edge_pixels",
    "estimate_edge_foreground",
    "fill_from",
    "fit_sky",
    "foreground_alpha",
    "harmonize",
    "lab_transfer_gains",
    "place_sky",
    "plan_adjustment",
    "reduce_for_fill",
    "render_sky",
    "replace_sky",
    "sky_region",
]


@dataclass(frozen=True)
class SkyReplacement:
    """The layers of a sky replacement; all arrays float32 in ``[0, 1]`` at the photo's size.

    Attributes
    ----------
    sky : ndarray
        ``HxWx3``: the new sky, placed and covering the whole canvas.
    alpha : ndarray
        ``HxW``: foreground opacity (1 = foreground) after ``shift_edge`` and ``fade_edge``;
        the layer mask of the foreground.
    foreground : ndarray
        ``HxWx3``: the photo, defringed and harmonised; equal to the photo when defringe,
        amount, brightness, temperature and lighting are all off.
    composite : ndarray
        ``HxWx3``: ``foreground * alpha + sky * (1 - alpha)``.
    mask : ndarray
        ``HxW``: the sky mask used (1 = sky), before the edge edits.
    placement : SkyPlacement
        How the sky image was scaled and positioned.
    adjustment : ForegroundAdjustment
        The global gains and horizon-light map applied to the foreground.
    """

    sky: np.ndarray
    alpha: np.ndarray
    foreground: np.ndarray
    composite: np.ndarray
    mask: np.ndarray
    placement: SkyPlacement
    adjustment: ForegroundAdjustment


def _checked_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if mask.shape != shape:
        raise ImageError(
            f"the mask is {mask.shape[1::-1] if mask.ndim >= 2 else mask.shape} but the photo "
            f"is {shape[1]}x{shape[0]}; pass a mask of the photo's size"
        )
    if mask.dtype == np.uint8:
        return mask.astype(np.float32) * np.float32(1 / 255)
    if mask.dtype == np.uint16:
        return mask.astype(np.float32) * np.float32(1 / 65535)
    if not np.issubdtype(mask.dtype, np.floating):
        raise ImageError(f"unsupported mask dtype {mask.dtype}; use float in [0, 1] or uint8")
    mask = mask.astype(np.float32, copy=False)
    low, high = float(mask.min()), float(mask.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ImageError("the mask has NaN or infinite values")
    return mask if 0.0 <= low and high <= 1.0 else np.clip(mask, 0.0, 1.0)


def replace_sky(
    photo: np.ndarray,
    sky: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    model: str | os.PathLike | ModelSpec | None = None,
    scale: float = 1.0,
    offset_x: float = 0.0,
    offset_y: float = 0.0,
    flip: bool = False,
    anchor: str = "horizon",
    shift_edge: float = 0.0,
    fade_edge: float = 0.0,
    defringe: bool = True,
    amount: float = 0.5,
    brightness: float = 0.0,
    temperature: float = 0.0,
    lighting: float = 0.3,
) -> SkyReplacement:
    """Replace the sky of a photo.

    Parameters
    ----------
    photo : ndarray
        ``HxW``, ``HxWx3`` or ``HxWx4`` photo, uint8, uint16 or float in ``[0, 1]``.
    sky : ndarray
        The new sky image, same kinds of arrays, any size (enlarged if needed).
    mask : ndarray, optional
        ``HxW`` sky mask of the photo (float in ``[0, 1]`` or uint8/uint16), 1 = sky. If
        omitted it is computed with :func:`skycore.sky_mask` and ``model``.
    model : str, path-like or ModelSpec, optional
        Segmentation model for the mask when ``mask`` is omitted; ``None`` for the default.
    scale, offset_x, offset_y, flip, anchor
        Placement of the sky, see :func:`fit_sky`.
    shift_edge, fade_edge
        Edge edits in pixels, see :func:`foreground_alpha`.
    defringe : bool, optional
        Remove the old sky's colour from soft edges (see :mod:`skycore.replace.blend`);
        False gives a plain alpha blend of the photo.
    amount, brightness, temperature, lighting
        Foreground adjustment, see :func:`plan_adjustment`.

    Returns
    -------
    SkyReplacement

    Raises
    ------
    ImageError
        For unusable images or masks, a sky image under 16 px, or a photo with (almost) no
        sky.
    ValueError
        For an option out of range; the message names it.
    """
    rgb = as_float_rgb(photo)
    shape = rgb.shape[:2]
    if mask is None:
        from ..pipeline import sky_mask

        mask = sky_mask(rgb, model=model)
    mask = _checked_mask(mask, shape)
    sky_share = float(mask.mean(dtype=np.float64))
    if sky_share < MIN_SKY_SHARE:
        raise ImageError(
            f"no sky found in the photo (the sky mask covers {sky_share:.2%} of it, less than "
            f"{MIN_SKY_SHARE:.1%}); pass a mask if the detection missed the sky"
        )
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
    height, width = shape
    placed = render_sky(sky_rgb, placement, (width, height))
    alpha = foreground_alpha(mask, shift_edge=shift_edge, fade_edge=fade_edge)
    # One reduced copy of photo, mask and new sky serves the statistics and the colour fills.
    photo_small, mask_small = reduce_for_fill(rgb, mask)
    zoom = mask_small.shape[1] / width
    sky_small = render_sky(sky_rgb, placement, mask_small.shape[::-1], zoom=zoom)
    adjustment = plan_adjustment(
        photo_small,
        mask_small,
        sky_small,
        amount=amount,
        brightness=brightness,
        temperature=temperature,
        lighting=lighting,
    )
    if defringe:
        indices = edge_pixels(mask, alpha)
        if indices.size:
            edge_colours = estimate_edge_foreground(
                rgb, mask, indices, reduced=(photo_small, mask_small)
            )
            if np.shares_memory(rgb, photo):
                rgb = rgb.copy()  # never write into the caller's array
            rgb.reshape(-1, 3)[indices] = edge_colours
    foreground = apply_adjustment(rgb, adjustment)
    return SkyReplacement(
        sky=placed,
        alpha=alpha,
        foreground=foreground,
        composite=composite(foreground, placed, alpha),
        mask=mask,
        placement=placement,
        adjustment=adjustment,
    )
