"""Enhance Sky: the sky of a low-light photo processed on its own (Liba et al. 2020).

The point of the paper's sky mask is to treat the sky apart from the scene: night skies come
out of a camera noisy, tinted by city lights and too bright or flat. :func:`enhance_sky`
measures each of these in the sky (:func:`measure_sky`) and corrects it there, with a strength
per correction (1 = as measured, 0 = off):

* **noise**: a guided filter (He et al., "Guided Image Filtering", 2013) guided by the sky's
  own luminance. Its window means are weighted by the sky mask, so no foreground colour is
  averaged into the sky (no halo at the horizon); its coefficients are computed on a coarse
  grid and applied at full resolution (He's "fast guided filter"); its edge threshold follows
  the noise measured in the sky. Luminance details well above the noise (stars) are put back.
  Chosen for speed at 12 MP (0.4 s on 2 cores for a sky of 8 MP, built from OpenCV's area
  resizing and box filter) over OpenCV's non-local means (11 s at 12 MP) and bilateral filter
  (0.6 s, but it cannot be told to ignore the foreground, so it smears the horizon into the
  sky).
* **white balance** (in low light: a dark or noisy sky, and not a sunset's red): the sky's
  mean colour, as log chromaticities ``u = ln(R/G)``, ``v = ln(B/G)`` in linear light, is
  compared with the colours a clear, overcast or twilight sky can have (:data:`SKY_LOCUS`,
  the wedge from neutral grey to daylight blue and to twilight violet). City light pushes a
  sky towards orange; the least warm shift that brings the sky back into the wedge, then the
  least tint shift, is the cast removed.
* **brightness and contrast**: only for a night sky (judged by its brightness, see
  :data:`NIGHT_SKY_LUMA`). A sky brighter than the scene under it is darkened part of the way
  (at most one stop), and a flat, glowing sky is given more contrast.

The photo is returned in its own depth; wherever the (feathered) mask is 0 its pixels are
returned unchanged, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from . import maskops, options
from .image import as_rgb, shrink_to_side, to_unit_float, unit_scale
from .pipeline import Model, _arguments, _checked_mask, _mask_settings, sky_mask

#: Rec. 601 luminance weights (OpenCV's RGB -> gray).
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
#: The encoded photo is taken as gamma 2.2 when gains meant for linear light are applied.
GAMMA = 2.2

#: Immerkaer's noise operator (1996): the difference of two Laplacians, blind to ramps.
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
#: A pixel counts as sure sky for the measurements above this mask value.
SURE_SKY = 0.98
#: Fewer sure-sky pixels than this and nothing is measured (the corrections stay off).
MIN_SKY_PIXELS = 256

#: Long side of the grid the guided filter's coefficients are computed on.
FILTER_GRID_SIDE = 1024
#: Window radius of the guided filter, in grid cells (at least 2 photo pixels per cell).
FILTER_RADIUS = 3
#: The filter keeps luminance edges stronger than this many noise deviations.
EDGE_SIGMAS = 2.0
#: Luminance details beyond this many noise deviations (stars) survive the noise reduction.
DETAIL_SIGMAS = 3.0

#: The wedge of plausible sky colours in ``(u, v) = (ln R/G, ln B/G)``: between twilight
#: violet (``u = 0``, R = G < B) and a clear day's cyan-blue (the most cyan clear sky of our
#: photos, Kodak 21), with neutral grey at its apex.
SKY_LOCUS = (np.array([0.0, 1.0]), np.array([-0.9, 0.4]) / math.hypot(0.9, 0.4))
#: Casts smaller than this (in log chromaticity, about 2 Delta E) are left alone, and twice
#: that or more removed in full: a sky's colour is not known more closely than that.
CAST_TOLERANCE = 0.05
#: The cast is corrected in low light only (a dark sky, or a noisy one: noise deviation from
#: the first value, fully from the second, in [0, 1] units): a warm sky in daylight is a sunset.
NOISY_SKY = (1 / 255, 3 / 255)
#: ... and only for skies up to this redness ``u = ln(R/G)`` (faded out up to the second
#: value): city glow measured 0.3-0.4 in our night photos, a sunset 0.4-2.
SUNSET_REDNESS = (0.7, 1.0)
#: The direction a warmer light (sodium, warm LEDs, a camera balanced for daylight) shifts a
#: colour: the Planckian locus between 3000 K and 12000 K in these coordinates, whose slope is
#: -1.6 to -1.7 (Kim et al.'s fit of the locus, converted to linear sRGB).
WARM = np.array([1.0, -1.65])

#: A sky darker than this mean encoded luminance counts as night; brighter than
#: ``NIGHT_SKY_LUMA[1]`` as day (brightness and contrast left alone); in between, partly.
NIGHT_SKY_LUMA = (0.30, 0.45)
#: At night, a sky this many times brighter (linear) than the scene is darkened halfway to the
#: scene, at most :data:`MAX_DARKEN` stops.
MAX_DARKEN = 1.0
#: ... but only over a lit scene (mean encoded luminance from the first value, fully from the
#: second): above a black silhouette the sky is the subject (the Milky Way) and keeps its light.
LIT_SCENE_LUMA = (0.05, 0.15)
#: A night sky's luminance contrast (deviation / mean of its smoothed luminance) is raised
#: towards this, by at most :data:`MAX_CONTRAST`.
TARGET_SKY_CONTRAST = 0.15
MAX_CONTRAST = 0.3


@dataclass(frozen=True)
class SkyMeasurements:
    """What :func:`measure_sky` found, the corrections at strength 1.

    Attributes
    ----------
    noise : float
        Standard deviation of the sky's luminance noise, in ``[0, 1]`` units of the photo.
    cast : tuple of float
        ``(u, v)``: the sky's colour cast in log chromaticity (``ln R/G``, ``ln B/G``, linear
        light); ``(0, 0)`` for a sky of a plausible colour, and in daylight or for a sunset's
        red (see :data:`NOISY_SKY`, :data:`SUNSET_REDNESS`).
    night : float
        0 (day) to 1 (night), from the sky's brightness.
    brightness : float
        Exposure change of the sky in stops (0 or negative: darker).
    contrast : float
        Relative contrast increase of the sky (0 = none).
    colour : tuple of float
        The sure sky's mean RGB (encoded, ``[0, 1]``): the pivot of the contrast change.
    """

    noise: float
    cast: tuple[float, float]
    night: float
    brightness: float
    contrast: float
    colour: tuple[float, float, float]


#: What :func:`measure_sky` returns for a photo without enough sure sky: no correction.
NOTHING_MEASURED = SkyMeasurements(0.0, (0.0, 0.0), 0.0, 0.0, 0.0, (0.0, 0.0, 0.0))


@dataclass(frozen=True)
class SkyEnhancement:
    """The result of :func:`enhance_sky`.

    Attributes
    ----------
    image : ndarray or None
        The enhanced photo, in the photo's dtype and channels (alpha kept); None unless asked
        for.
    sky : ndarray
        ``HxWx3`` in the photo's dtype: the enhanced pixels wherever ``alpha`` > 0 (the photo
        elsewhere), the layer GIMP masks onto the photo.
    alpha : ndarray
        float32 ``HxW``: where, and how much, the enhancement applies (the sky mask after the
        edge edits).
    measured : SkyMeasurements
        The measured corrections (before the strengths).
    """

    image: np.ndarray | None
    sky: np.ndarray
    alpha: np.ndarray
    measured: SkyMeasurements


def noise_level(luma: np.ndarray, region: np.ndarray) -> float:
    """Standard deviation of white noise in ``luma`` over ``region`` (Immerkaer 1996, with
    the median absolute deviation so that clouds and stars do not count as noise).

    Parameters
    ----------
    luma : ndarray
        float32 ``HxW`` in ``[0, 1]``.
    region : ndarray
        bool ``HxW``: where to measure; pixels next to its border are left out.

    Returns
    -------
    float
        0.0 when the region has fewer than :data:`MIN_SKY_PIXELS` inner pixels.
    """
    inner = cv2.erode(region.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2) > 0
    if np.count_nonzero(inner) < MIN_SKY_PIXELS:
        return 0.0
    response = np.abs(cv2.filter2D(luma, cv2.CV_32F, _NOISE_KERNEL)[inner])
    # The operator's response to unit white noise has deviation 6; MAD -> deviation: 1.4826.
    return float(1.4826 * np.median(response) / 6.0)


def _inside_locus(point: np.ndarray) -> bool:
    u, v = point
    violet, blue = SKY_LOCUS
    return v >= 0 and u <= 0 and u * blue[1] >= v * blue[0] - 1e-9


def _nearest_in_locus(point: np.ndarray) -> np.ndarray:
    if _inside_locus(point):
        return point
    candidates = [max(0.0, float(point @ edge)) * edge for edge in SKY_LOCUS]
    return min(candidates, key=lambda c: float(np.sum((point - c) ** 2)))


def sky_cast(chroma: np.ndarray) -> np.ndarray:
    """The cast of a sky whose mean colour has log chromaticity ``chroma = (u, v)``.

    A sky redder than green is moved back along :data:`WARM` until it is neither redder nor
    less blue than green, then (any sky) to the nearest colour of :data:`SKY_LOCUS`; the cast is
    what was removed (faded out below :data:`CAST_TOLERANCE`). A sky already of a plausible
    colour has no cast.

    Returns
    -------
    ndarray
        ``(u, v)`` to subtract from the sky's log chromaticity.
    """
    chroma = np.asarray(chroma, np.float64)
    if _inside_locus(chroma):
        return np.zeros(2)
    warm_shift = max(chroma[0] / WARM[0], chroma[1] / WARM[1]) if chroma[0] > 0 else 0.0
    unwarmed = chroma - warm_shift * WARM
    cast = chroma - _nearest_in_locus(unwarmed)
    ramp = np.clip(float(np.hypot(*cast)) / CAST_TOLERANCE - 1.0, 0.0, 1.0)
    return cast * ramp * ramp * (3.0 - 2.0 * ramp)


def _ramp(value: float, start: float, end: float) -> float:
    """0 at ``start``, 1 at ``end``, linear between (``end`` < ``start`` for a falling ramp)."""
    return float(np.clip((value - start) / (end - start), 0.0, 1.0))


def _linear(encoded: np.ndarray) -> np.ndarray:
    return np.power(np.clip(encoded, 0, 1), GAMMA)


def measure_sky(image: np.ndarray, mask: np.ndarray) -> SkyMeasurements:
    """Measure the sky's noise, colour cast and (at night) brightness and contrast.

    Parameters
    ----------
    image : ndarray
        ``HxWx3`` photo (uint8, uint16 or float in ``[0, 1]``).
    mask : ndarray
        float32 ``HxW`` sky mask, 1 = sky.

    Returns
    -------
    SkyMeasurements
        All zero when the photo has fewer than :data:`MIN_SKY_PIXELS` pixels of sure sky.
    """
    rgb = as_rgb(image)
    sure = mask >= SURE_SKY
    rows = np.flatnonzero(sure.any(axis=1))
    if rows.size == 0:
        return NOTHING_MEASURED
    # Noise at full resolution (reduction would average it away), on the sure sky's rows.
    band = slice(rows[0], rows[-1] + 1)
    luma = cv2.cvtColor(to_unit_float(rgb[band]), cv2.COLOR_RGB2GRAY)
    noise = noise_level(luma, sure[band])
    # Colour and brightness on a reduced copy: they are averages.
    small = to_unit_float(shrink_to_side(rgb, 512))
    small_mask = cv2.resize(mask, small.shape[1::-1], interpolation=cv2.INTER_AREA)
    sky = small_mask >= SURE_SKY
    if np.count_nonzero(sky) < MIN_SKY_PIXELS // 16:
        return NOTHING_MEASURED
    colour = small[sky].mean(axis=0)
    small_luma = small @ LUMA
    sky_luma = float(small_luma[sky].mean())
    night = _ramp(sky_luma, *NIGHT_SKY_LUMA[::-1])

    sky_linear = _linear(small[sky]).mean(axis=0) + 1e-6
    chroma = np.log([sky_linear[0] / sky_linear[1], sky_linear[2] / sky_linear[1]])
    low_light = max(night, _ramp(noise, *NOISY_SKY))
    cast = sky_cast(chroma) * low_light * _ramp(chroma[0], *SUNSET_REDNESS[::-1])
    scene = small_mask <= 1.0 - SURE_SKY
    brightness = contrast = 0.0
    if night > 0 and np.count_nonzero(scene) >= MIN_SKY_PIXELS // 16:
        scene_luma = small_luma[scene]
        ratio = float(_linear(small_luma[sky]).mean() / max(_linear(scene_luma).mean(), 1e-6))
        lit = _ramp(float(scene_luma.mean()), *LIT_SCENE_LUMA)
        darken = min(MAX_DARKEN, max(0.0, 0.5 * math.log2(max(ratio, 1e-6))))
        brightness = -night * lit * darken
    if night > 0:
        smooth = cv2.GaussianBlur(small_luma, (0, 0), 4.0)[sky]
        spread = float(smooth.std() / max(float(smooth.mean()), 1e-3))
        wanted = TARGET_SKY_CONTRAST / max(spread, 1e-3) - 1.0
        contrast = night * float(np.clip(wanted, 0.0, MAX_CONTRAST))
    return SkyMeasurements(
        noise,
        (float(cast[0]), float(cast[1])),
        night,
        brightness,
        contrast,
        tuple(float(c) for c in colour),
    )


def _weighted_box(values: np.ndarray, weight_sum: np.ndarray, radius: int) -> np.ndarray:
    summed = cv2.boxFilter(values, -1, (2 * radius + 1,) * 2, normalize=False)
    return summed / weight_sum


def denoise_sky(
    rgb: np.ndarray, mask: np.ndarray, *, noise: float, strength: float = 1.0
) -> np.ndarray:
    """Reduce noise in the sky with a mask-weighted fast guided filter, in place.

    Parameters
    ----------
    rgb : ndarray
        float32 ``HxWx3`` in ``[0, 1]``; overwritten with the result.
    mask : ndarray
        float32 ``HxW`` sky weight: pixels of weight 0 are never averaged into the sky.
    noise : float
        Noise deviation of the luminance (:func:`noise_level`).
    strength : float, optional
        Multiplies the noise the filter is set for; 0 leaves ``rgb`` as it is.

    Returns
    -------
    ndarray
        ``rgb``.
    """
    sigma = noise * strength
    if sigma <= 0:
        return rgb
    height, width = mask.shape
    grid = (
        max(1, round(width * min(1.0, FILTER_GRID_SIDE / max(height, width)))),
        max(1, round(height * min(1.0, FILTER_GRID_SIDE / max(height, width)))),
    )
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)

    def reduced(values: np.ndarray) -> np.ndarray:
        return cv2.resize(values, grid, interpolation=cv2.INTER_AREA)

    # Window sums on the grid of mask-weighted full-resolution products.
    weight = reduced(mask)
    weight_sum = np.maximum(
        cv2.boxFilter(weight, -1, (2 * FILTER_RADIUS + 1,) * 2, normalize=False), 1e-6
    )
    weighted_luma = luma * mask
    mean_luma = _weighted_box(reduced(weighted_luma), weight_sum, FILTER_RADIUS)
    variance = _weighted_box(reduced(weighted_luma * luma), weight_sum, FILTER_RADIUS)
    variance -= mean_luma * mean_luma
    regulariser = np.float32((EDGE_SIGMAS * sigma) ** 2)
    slopes, offsets = [], []
    for channel in range(3):
        values = rgb[..., channel]
        mean = _weighted_box(reduced(values * mask), weight_sum, FILTER_RADIUS)
        covariance = _weighted_box(reduced(weighted_luma * values), weight_sum, FILTER_RADIUS)
        covariance -= mean_luma * mean
        slope = covariance / (np.maximum(variance, 0) + regulariser)
        slopes.append(slope)
        offsets.append(mean - slope * mean_luma)
    # The coefficients are averaged over the windows again, weighted by the sky.
    size = (width, height)
    smoothed_luma = np.zeros_like(luma)
    for channel in range(3):
        slope = _weighted_box(slopes[channel] * weight, weight_sum, FILTER_RADIUS)
        offset = _weighted_box(offsets[channel] * weight, weight_sum, FILTER_RADIUS)
        result = cv2.resize(slope, size, interpolation=cv2.INTER_LINEAR) * luma
        result += cv2.resize(offset, size, interpolation=cv2.INTER_LINEAR)
        rgb[..., channel] = result
        smoothed_luma += LUMA[channel] * result
    # Soft-threshold the removed luminance: noise goes, stars and fine bright edges come back.
    detail = luma - smoothed_luma
    threshold = np.float32(DETAIL_SIGMAS * sigma)
    detail = np.sign(detail) * np.maximum(np.abs(detail) - threshold, 0)
    rgb += detail[..., None]
    return rgb


def _gains(measured: SkyMeasurements, *, white_balance: float, brightness: float) -> np.ndarray:
    """Per-channel factors for encoded values: the cast removed and the exposure changed."""
    cast_u, cast_v = measured.cast
    # Green stays, as in a camera's white balance; the cast is a ratio to it.
    linear = np.exp(-white_balance * np.array([cast_u, 0.0, cast_v]))
    linear *= 2.0 ** (brightness * measured.brightness)
    return (linear ** (1.0 / GAMMA)).astype(np.float32)


def _bounding_box(alpha: np.ndarray) -> tuple[slice, slice] | None:
    rows = np.flatnonzero(alpha.any(axis=1))
    if rows.size == 0:
        return None
    columns = np.flatnonzero(alpha[rows[0] : rows[-1] + 1].any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(columns[0], columns[-1] + 1)


def _in_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype in (np.uint8, np.uint16):
        scale = 1.0 / unit_scale(dtype)
        return np.rint(np.clip(values, 0, 1) * scale).astype(dtype)
    return np.clip(values, 0, 1).astype(dtype, copy=False)


def enhance_sky(
    image: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    denoise: float = 1.0,
    white_balance: float = 1.0,
    brightness: float = 1.0,
    contrast: float = 1.0,
    shift_edge: float = 0.0,
    feather: float = 0.0,
    model: Model = None,
    refine_edges: bool = True,
    colour_density: bool = False,
    probability: np.ndarray | None = None,
    composite: bool = True,
) -> SkyEnhancement:
    """Reduce noise, remove the colour cast and (at night) tone down the sky of a photo
    (the *Enhance Sky* task; options in :data:`skycore.options.ENHANCE_SKY`).

    Parameters
    ----------
    image : ndarray
        ``HxW``, ``HxWx3`` or ``HxWx4`` photo, uint8, uint16 or float in ``[0, 1]``.
    mask : ndarray, optional
        ``HxW`` sky mask of the photo (float in ``[0, 1]`` or uint8/uint16), 1 = sky; computed
        by :func:`skycore.sky_mask` with ``model``, ``refine_edges`` and ``colour_density``
        when omitted.
    denoise, white_balance, brightness, contrast : float, optional
        Strength of each correction: 1 = as measured (:func:`measure_sky`), 0 = off.
    shift_edge, feather : float, optional
        Grow (> 0) or shrink (< 0) the enhanced area, and soften its edge, in pixels.
    model, refine_edges, colour_density, probability
        How the mask is computed when ``mask`` is omitted; see :func:`skycore.sky_mask`.
    composite : bool, optional
        Also return the enhanced photo (``SkyEnhancement.image``); a front end that stacks
        ``sky`` and ``alpha`` as layers (GIMP) saves that full-size copy.

    Returns
    -------
    SkyEnhancement

    Raises
    ------
    ImageError
        For an unusable image or mask.
    ValueError
        For an option out of range; the message names it.
    """
    settings = options.validate(options.ENHANCE_SKY, _arguments(locals(), options.ENHANCE_SKY))
    photo = np.asarray(image)
    rgb = as_rgb(photo)
    if mask is None:
        mask = sky_mask(rgb, **_mask_settings(settings), probability=probability)
    mask = _checked_mask(mask, rgb.shape[:2])
    alpha = maskops.adjust_mask(
        mask, shift_edge=settings["shift_edge"], feather=settings["feather"]
    )
    # Below half a step of 8 bits the blend changes nothing visible: keep those pixels exact.
    # (A new array: the caller's mask may be this very array.)
    alpha = np.where(alpha >= 1 / 512, alpha, np.float32(0))
    measured = measure_sky(rgb, alpha)

    sky = rgb.copy()
    box = _bounding_box(alpha)
    if box is not None:
        weight = np.ascontiguousarray(alpha[box])
        original = to_unit_float(rgb[box])
        enhanced = denoise_sky(
            original.copy(), weight, noise=measured.noise, strength=settings["denoise"]
        )
        gains = _gains(
            measured, white_balance=settings["white_balance"], brightness=settings["brightness"]
        )
        amount = np.float32(settings["contrast"] * measured.contrast)
        sky_mean = np.asarray(measured.colour, np.float32) * gains
        for channel in range(3):
            # (x * gain - mean) * (1 + amount) + mean, in one multiply and one subtract.
            enhanced[..., channel] *= gains[channel] * (1 + amount)
            enhanced[..., channel] -= sky_mean[channel] * amount
        np.clip(enhanced, 0, 1, out=enhanced)
        enhanced -= original
        enhanced *= weight[..., None]
        enhanced += original
        sky[box] = _in_dtype(enhanced, rgb.dtype)
    result = _photo_layout(sky, photo) if composite else None
    return SkyEnhancement(image=result, sky=sky, alpha=alpha, measured=measured)


def _photo_layout(sky: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """The enhanced RGB back in the photo's channels: grey stays grey, alpha is kept."""
    if photo.ndim == 2:
        return sky[..., 0].copy()
    if photo.shape[2] == 1:
        return sky[..., :1].copy()
    if photo.shape[2] == 4:
        return np.dstack([sky, photo[..., 3:].astype(sky.dtype)])
    return sky.copy()
