"""The tasks, photo in and result out: :func:`sky_mask`, :func:`select_sky`, :func:`replace_sky`.

Each task's keyword options are declared in :mod:`skycore.options` (``SELECT_SKY``,
``REPLACE_SKY``) and checked against that table here; the worker, the command line and the
GIMP plug-in call these functions with the same names. The photo stays in its own depth until
the mask exists: prediction shrinks it and refinement converts it strip by strip, so no
full-resolution float copy (144 MB at 12 MP) is made for the mask.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from . import maskops, options
from .errors import ImageError
from .image import as_float_rgb, as_rgb, to_unit_float
from .inference import predict_probability
from .refinement import refine
from .registry import ModelSpec
from .replace import SkyReplacement, blend, fit, harmonization

#: A photo whose mask holds less sky than this share of its area is refused by
#: :func:`replace_sky`: there is nothing to replace, and fitting a sky to a few stray pixels
#: would be arbitrary.
MIN_SKY_SHARE = 0.002

Model = str | os.PathLike | ModelSpec | None


def sky_mask(
    image: np.ndarray,
    *,
    model: Model = None,
    refine_edges: bool = True,
    colour_density: bool = False,
    probability: np.ndarray | None = None,
) -> np.ndarray:
    """Full-resolution sky mask of a photo.

    Parameters
    ----------
    image : ndarray
        ``HxW``, ``HxWx3`` or ``HxWx4`` photo, uint8, uint16 or float in ``[0, 1]``.
    model : str, path-like, ModelSpec or None, optional
        Segmentation model; ``None`` for the default model.
    refine_edges : bool, optional
        Refine the probability at full resolution (:func:`skycore.refine`). If False, the
        model's probability is only upsampled bilinearly.
    colour_density : bool, optional
        Re-estimate uncertain pixels with the colour density model before refining.
    probability : ndarray, optional
        The model's probability for this photo, if the caller has it
        (:func:`skycore.predict_probability`); the model is not run again.

    Returns
    -------
    ndarray
        float32 ``HxW`` in ``[0, 1]``, 1 = sky.
    """
    rgb = as_rgb(image)
    if probability is None:
        probability = predict_probability(rgb, model)
    if not refine_edges:
        height, width = rgb.shape[:2]
        return np.clip(
            cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR), 0, 1
        )
    return refine(rgb, probability, colour_density=colour_density)


def select_sky(
    image: np.ndarray,
    *,
    model: Model = None,
    refine_edges: bool = True,
    colour_density: bool = False,
    shift_edge: float = 0.0,
    feather: float = 0.0,
    invert: bool = False,
    probability: np.ndarray | None = None,
) -> np.ndarray:
    """The sky mask with the selection edits a photographer sets: move the edge, feather,
    invert (the *Select Sky* task; options in :data:`skycore.options.SELECT_SKY`).

    Parameters
    ----------
    image : ndarray
        ``HxW``, ``HxWx3`` or ``HxWx4`` photo, uint8, uint16 or float in ``[0, 1]``.
    model, refine_edges, colour_density, probability
        See :func:`sky_mask`.
    shift_edge : float, optional
        Grow (> 0) or shrink (< 0) the sky, in pixels.
    feather : float, optional
        Feather radius in pixels.
    invert : bool, optional
        Everything but the sky.

    Returns
    -------
    ndarray
        float32 ``HxW`` in ``[0, 1]``.

    Raises
    ------
    ValueError
        For an option out of range; the message names it.
    """
    settings = options.validate(options.SELECT_SKY, _arguments(locals(), options.SELECT_SKY))
    mask = sky_mask(image, **_mask_settings(settings), probability=probability)
    return maskops.adjust_mask(
        mask,
        shift_edge=settings["shift_edge"],
        feather=settings["feather"],
        invert=settings["invert"],
    )


def _arguments(given: dict, table: tuple[options.Option, ...]) -> dict:
    return {entry.name: given[entry.name] for entry in table}


def _mask_settings(settings: dict) -> dict:
    """The options of :func:`sky_mask` among a task's checked settings."""
    return {name: settings[name] for name in ("model", "refine_edges", "colour_density")}


def _checked_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if mask.shape != shape:
        raise ImageError(
            f"the mask is {mask.shape[1::-1] if mask.ndim >= 2 else mask.shape} but the photo "
            f"is {shape[1]}x{shape[0]}; pass a mask of the photo's size"
        )
    return to_unit_float(mask, what="mask")


def replace_sky(
    photo: np.ndarray,
    sky: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    scale: float = 1.0,
    offset_x: float = 0.0,
    offset_y: float = 0.0,
    flip: bool = False,
    anchor: str = "horizon",
    shift_edge: float = 0.0,
    feather: float = 0.0,
    defringe: bool = True,
    amount: float = 0.5,
    brightness: float = 0.0,
    temperature: float = 0.0,
    lighting: float = 0.3,
    model: Model = None,
    refine_edges: bool = True,
    colour_density: bool = False,
    probability: np.ndarray | None = None,
    composite: bool = True,
) -> SkyReplacement:
    """Replace the sky of a photo (the *Replace Sky* task; options in
    :data:`skycore.options.REPLACE_SKY`).

    Parameters
    ----------
    photo : ndarray
        ``HxW``, ``HxWx3`` or ``HxWx4`` photo, uint8, uint16 or float in ``[0, 1]``.
    sky : ndarray
        The new sky image, same kinds of arrays, any size (enlarged if needed).
    mask : ndarray, optional
        ``HxW`` sky mask of the photo (float in ``[0, 1]`` or uint8/uint16), 1 = sky. If
        omitted it is computed by :func:`sky_mask` with ``model``, ``refine_edges`` and
        ``colour_density``.
    scale, offset_x, offset_y, flip, anchor
        Placement of the sky, see :func:`skycore.replace.fit_sky`.
    shift_edge, feather
        Edge edits in pixels, see :func:`skycore.replace.foreground_alpha`.
    defringe : bool, optional
        Remove the old sky's colour from soft edges (see :mod:`skycore.replace.blend`);
        False gives a plain alpha blend of the photo.
    amount, brightness, temperature, lighting
        Foreground adjustment, see :func:`skycore.replace.plan_adjustment`.
    model, refine_edges, colour_density, probability
        How the mask is computed when ``mask`` is omitted; see :func:`sky_mask`.
    composite : bool, optional
        Also blend the layers into one picture (``SkyReplacement.composite``); a front end
        that stacks the layers itself (GIMP) saves that full-size blend.

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
    settings = options.validate(options.REPLACE_SKY, _arguments(locals(), options.REPLACE_SKY))
    image = as_rgb(photo)
    if mask is None:
        mask = sky_mask(image, **_mask_settings(settings), probability=probability)
    mask = _checked_mask(mask, image.shape[:2])
    sky_share = float(mask.mean(dtype=np.float64))
    if sky_share < MIN_SKY_SHARE:
        raise ImageError(
            f"no sky found in the photo (the sky mask covers {sky_share:.2%} of it, less than "
            f"{MIN_SKY_SHARE:.1%}); pass a mask if the detection missed the sky"
        )
    sky_rgb = as_float_rgb(sky)
    placed, placement = fit.fit_sky(
        sky_rgb,
        mask,
        **{k: settings[k] for k in ("scale", "offset_x", "offset_y", "flip", "anchor")},
    )
    alpha = blend.foreground_alpha(
        mask, shift_edge=settings["shift_edge"], feather=settings["feather"]
    )
    # One reduced copy of photo, mask and new sky serves the statistics and the colour fills.
    photo_small, mask_small = blend.reduce_for_fill(image, mask)
    zoom = mask_small.shape[1] / mask.shape[1]
    sky_small = fit.render_sky(sky_rgb, placement, mask_small.shape[::-1], zoom=zoom)
    if settings["defringe"]:
        foreground = blend.defringe(image, mask, alpha, reduced=(photo_small, mask_small))
    else:
        foreground = as_float_rgb(image)
    foreground = harmonization.harmonize(
        foreground,
        mask,
        placed,
        **{k: settings[k] for k in ("amount", "brightness", "temperature", "lighting")},
        reduced=(photo_small, mask_small, sky_small),
    )
    return SkyReplacement(
        sky=placed,
        alpha=alpha,
        foreground=foreground,
        composite=blend.composite(foreground, placed, alpha) if composite else None,
        mask=mask,
        placement=placement,
    )
