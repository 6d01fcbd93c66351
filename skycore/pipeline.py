"""Photo to sky mask in one call: prediction followed by refinement."""

from __future__ import annotations

import os

import cv2
import numpy as np

from .image import as_rgb
from .inference import predict_probability
from .models import ModelSpec
from .refinement import refine as refine_probability


def sky_mask(
    image: np.ndarray,
    *,
    model: str | os.PathLike | ModelSpec | None = None,
    refine: bool = True,
    density: bool = False,
) -> np.ndarray:
    """Full-resolution sky mask of a photo.

    Parameters
    ----------
    image : ndarray
        ``HxW``, ``HxWx3`` or ``HxWx4`` photo, uint8, uint16 or float in ``[0, 1]``.
    model : str, path-like, ModelSpec or None, optional
        Segmentation model; ``None`` for the default model.
    refine : bool, optional
        Refine the probability at full resolution (:func:`skycore.refine`). If False, the
        model's probability is only upsampled bilinearly.
    density : bool, optional
        Re-estimate uncertain pixels with the colour density model before refining.

    Returns
    -------
    ndarray
        float32 ``HxW`` in ``[0, 1]``, 1 = sky.
    """
    # In the photo's own depth: prediction shrinks it and refinement converts it strip by
    # strip, so a full-resolution float copy (144 MB at 12 MP) is never made.
    rgb = as_rgb(image)
    probability = predict_probability(rgb, model)
    if not refine:
        height, width = rgb.shape[:2]
        return np.clip(
            cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR), 0, 1
        )
    return refine_probability(rgb, probability, density=density)
