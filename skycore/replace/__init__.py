"""Sky replacement's building blocks: place a new sky, blend the foreground over it, relight.

:func:`skycore.pipeline.replace_sky` runs the whole chain with them and returns the pieces
separately, so a front end can build editable layers (the GIMP plug-in) or just save the
composite (the CLI):

* ``sky``: the new sky fitted to the photo (:func:`fit_sky`);
* ``alpha``: the foreground's opacity from the sky mask with the edge edits
  (:func:`foreground_alpha`);
* ``foreground``: the photo with its edges defringed (:func:`defringe`) and its colours adapted
  to the new sky (:func:`harmonize`);
* ``composite``: ``foreground * alpha + sky * (1 - alpha)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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

__all__ = [
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
        ``HxW``: foreground opacity (1 = foreground) after ``shift_edge`` and ``feather``;
        the layer mask of the foreground.
    foreground : ndarray
        ``HxWx3``: the photo, defringed and harmonised; equal to the photo when defringe,
        amount, brightness, temperature and lighting are all off.
    composite : ndarray or None
        ``HxWx3``: ``foreground * alpha + sky * (1 - alpha)``; None unless asked for.
    mask : ndarray
        ``HxW``: the sky mask used (1 = sky), before the edge edits.
    placement : SkyPlacement
        How the sky image was scaled and positioned.
    """

    sky: np.ndarray
    alpha: np.ndarray
    foreground: np.ndarray
    composite: np.ndarray | None
    mask: np.ndarray
    placement: SkyPlacement
