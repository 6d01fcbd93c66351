"""Adapting the foreground to a new sky: exposure, colour cast and horizon light.

The old sky lit the scene; the new one should seem to. Two adjustments do that:

* a global one from Lab statistics: the foreground's lightness is scaled by the ratio of the
  new to the old sky's mean lightness to the power ``amount``, and its a*/b* are shifted by
  ``amount`` times :data:`CHROMA_COUPLING` times the difference of the skies' a*/b* means.
  The per-pixel Lab transfer is computed on a reduced copy of the foreground and realised
  as the three per-channel gains that reproduce it best (least squares), so it costs one
  multiply at full size and blacks stay black (a white balance and exposure change, which
  GIMP's Levels can also express);
* ``lighting``: near the sky, the foreground takes on the colour of the new sky right above
  it, fading with the distance from the sky region.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..image import as_float_rgb, shrink_to_side
from ..options import REPLACE_SKY, check
from .blend import fill_from

#: Statistics are measured at this many pixels on the long side.
STATS_SIDE = 512
#: Mask values counted as sure sky / sure foreground for statistics.
SURE = 0.9
#: Lab b* shift per unit of ``temperature`` (about the step from daylight to tungsten-ish warmth).
TEMPERATURE_B = 20.0
#: Share of the skies' a*/b* difference that reaches the foreground at ``amount`` 1: a sky is
#: far more saturated than the light it casts (a blue sky does not make the ground blue).
CHROMA_COUPLING = 0.4
#: Largest brightening or darkening factor the sky lightness ratio may ask for.
MAX_LIGHTNESS_RATIO = 3.0
#: The horizon light fades with distance below the sky region: to 1/e at this share of the
#: photo height.
LIGHTING_REACH = 0.2
#: Bounds of the per-channel gains, so a pathological sky cannot blow out the foreground.
GAIN_LIMITS = (0.2, 5.0)


@dataclass(frozen=True)
class ForegroundAdjustment:
    """What :func:`plan_adjustment` decided, for display or for rebuilding it elsewhere.

    Attributes
    ----------
    gains : tuple of float
        Per-channel RGB gains applied to the whole foreground (amount, brightness,
        temperature).
    lighting : ndarray or None
        float32 ``hxwx3`` per-pixel gains of the horizon light at reduced size (``None`` when
        ``lighting`` is 0); :func:`apply_adjustment` resizes it to the photo.
    """

    gains: tuple[float, float, float]
    lighting: np.ndarray | None


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2Lab)


def _rgb(lab: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32), cv2.COLOR_Lab2RGB)


def lab_transfer_gains(
    foreground: np.ndarray,
    old_sky: np.ndarray,
    new_sky: np.ndarray,
    *,
    amount: float = 0.5,
    temperature: float = 0.0,
) -> tuple[float, float, float]:
    """Per-channel gains that move the foreground's Lab statistics with the sky's.

    Parameters
    ----------
    foreground, old_sky, new_sky : ndarray
        float32 ``Nx3`` RGB samples in ``[0, 1]``: foreground pixels, the photo's sky pixels,
        and the new sky's pixels where the photo's sky is.
    amount : float, optional
        0 keeps the foreground; 1 applies the skies' full lightness ratio and
        :data:`CHROMA_COUPLING` of their a*/b* difference.
    temperature : float, optional
        Extra warm (> 0) or cool (< 0) shift, :data:`TEMPERATURE_B` Lab b* units per unit.

    Returns
    -------
    tuple of float
        Gains for R, G, B.
    """
    fg = _lab(foreground[None])[0]
    old_mean = _lab(old_sky[None])[0].mean(axis=0)
    new_mean = _lab(new_sky[None])[0].mean(axis=0)
    ratio = np.clip(
        new_mean[0] / max(old_mean[0], 1.0), 1 / MAX_LIGHTNESS_RATIO, MAX_LIGHTNESS_RATIO
    )
    target = fg.copy()
    target[:, 0] *= ratio**amount
    target[:, 1] += amount * CHROMA_COUPLING * (new_mean[1] - old_mean[1])
    target[:, 2] += (
        amount * CHROMA_COUPLING * (new_mean[2] - old_mean[2]) + TEMPERATURE_B * temperature
    )
    target[:, 0] = np.clip(target[:, 0], 0.0, 100.0)
    wanted = np.clip(_rgb(target[None])[0], 0.0, 1.0)
    # Least squares through the origin per channel: bright pixels, which show a cast most,
    # weigh most, and the gains never lift black.
    gains = (foreground * wanted).sum(axis=0) / np.maximum((foreground**2).sum(axis=0), 1e-8)
    gains = np.clip(gains, *GAIN_LIMITS)
    return tuple(float(g) for g in gains)


def lighting_gains(
    mask_small: np.ndarray, new_sky_small: np.ndarray, lighting: float
) -> np.ndarray:
    """Per-pixel RGB gains that tint the foreground near the sky with the new sky's colour.

    Parameters
    ----------
    mask_small : ndarray
        float32 ``hxw`` sky mask at reduced size, 1 = sky.
    new_sky_small : ndarray
        float32 ``hxwx3`` placed new sky at the same size.
    lighting : float
        Strength in ``[0, 1]``: at 1, a pixel touching the sky is multiplied by the sky
        colour normalised to unit mean (a pure tint; its brightness stays).

    Returns
    -------
    ndarray
        float32 ``hxwx3`` gains, 1 far from the sky.
    """
    sure_sky = (mask_small >= SURE).astype(np.float32)
    if not sure_sky.any():
        sure_sky = mask_small.astype(np.float32)
    # The colour of the sky nearest to each foreground pixel: usually the sky just above it.
    sky_colour = fill_from(new_sky_small, sure_sky)
    tint = sky_colour / np.maximum(sky_colour.mean(axis=2, keepdims=True), 1e-3)
    not_sky = (mask_small < 0.5).astype(np.uint8)
    distance = cv2.distanceTransform(not_sky, cv2.DIST_L2, 3)
    reach = LIGHTING_REACH * mask_small.shape[0]
    weight = np.exp(-distance / reach)[..., None] * np.float32(lighting)
    gains = 1.0 + weight * (np.clip(tint, *GAIN_LIMITS) - 1.0)
    return gains.astype(np.float32, copy=False)


def plan_adjustment(
    photo: np.ndarray,
    mask: np.ndarray,
    new_sky: np.ndarray,
    *,
    amount: float = 0.5,
    brightness: float = 0.0,
    temperature: float = 0.0,
    lighting: float = 0.3,
) -> ForegroundAdjustment:
    """Measure the photo and the skies and decide the foreground adjustment.

    Parameters
    ----------
    photo : ndarray
        float32 ``HxWx3`` in ``[0, 1]``.
    mask : ndarray
        float32 ``HxW`` sky mask, 1 = sky.
    new_sky : ndarray
        float32 ``HxWx3``: the new sky placed at the photo's size.
    amount : float, optional
        Lab statistics transfer in ``[0, 1]``, see :func:`lab_transfer_gains`.
    brightness : float, optional
        Extra exposure change of the foreground in stops, ``[-2, 2]``.
    temperature : float, optional
        Extra cool (< 0) / warm (> 0) shift in ``[-1, 1]``.
    lighting : float, optional
        Horizon light strength in ``[0, 1]``, see :func:`lighting_gains`.

    Returns
    -------
    ForegroundAdjustment
    """
    for name, value in (
        ("amount", amount),
        ("brightness", brightness),
        ("temperature", temperature),
        ("lighting", lighting),
    ):
        check(REPLACE_SKY, name, value)
    photo_small = shrink_to_side(photo, STATS_SIDE)
    mask_small = shrink_to_side(mask, STATS_SIDE)
    sky_small = shrink_to_side(new_sky, STATS_SIDE)
    sure_sky = mask_small >= SURE
    sure_fg = mask_small <= 1.0 - SURE
    gains = np.ones(3)
    if (amount > 0 or temperature != 0) and sure_sky.any() and sure_fg.any():
        gains = np.array(
            lab_transfer_gains(
                photo_small[sure_fg],
                photo_small[sure_sky],
                sky_small[sure_sky],
                amount=amount,
                temperature=temperature,
            )
        )
    # Stops are in linear light; sRGB values scale by about the 1/2.2 power of that.
    gains = np.clip(gains * 2.0 ** (brightness / 2.2), *GAIN_LIMITS)
    light = lighting_gains(mask_small, sky_small, lighting) if lighting > 0 else None
    return ForegroundAdjustment(tuple(float(g) for g in gains), light)


def apply_adjustment(image: np.ndarray, adjustment: ForegroundAdjustment) -> np.ndarray:
    """Apply a :class:`ForegroundAdjustment` to a full-size image.

    Parameters
    ----------
    image : ndarray
        float32 ``HxWx3`` in ``[0, 1]``.
    adjustment : ForegroundAdjustment

    Returns
    -------
    ndarray
        float32 ``HxWx3`` in ``[0, 1]``, a new array.
    """
    height, width = image.shape[:2]
    gains = np.asarray(adjustment.gains, dtype=np.float32)
    if adjustment.lighting is None:
        result = image * gains
    else:
        # Fold the global gains into the small map: one full-size multiply for both.
        per_pixel = cv2.resize(
            adjustment.lighting * gains, (width, height), interpolation=cv2.INTER_LINEAR
        )
        result = cv2.multiply(image, per_pixel)
    return np.clip(result, 0.0, 1.0, out=result)


def harmonize(
    photo: np.ndarray,
    mask: np.ndarray,
    new_sky: np.ndarray,
    *,
    amount: float = 0.5,
    brightness: float = 0.0,
    temperature: float = 0.0,
    lighting: float = 0.3,
    reduced: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Adapt a photo's foreground to a new sky (the foreground adjustment layer).

    Parameters are those of :func:`plan_adjustment`, except that ``photo`` may also be
    uint8 or uint16, and ``reduced``: reduced copies ``(photo, mask, new_sky)`` to measure on
    instead of the full-size ones, if the caller has them.

    Returns
    -------
    ndarray
        float32 ``HxWx3`` in ``[0, 1]``: the adjusted photo (meant to be shown where the
        foreground is; the sky region is adjusted too but covered by the new sky).
    """
    photo = as_float_rgb(photo)
    measured = reduced if reduced is not None else (photo, mask, new_sky)
    plan = plan_adjustment(
        *measured,
        amount=amount,
        brightness=brightness,
        temperature=temperature,
        lighting=lighting,
    )
    return apply_adjustment(photo, plan)
