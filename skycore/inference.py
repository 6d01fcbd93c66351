"""Sky probability from an ONNX segmentation model."""

from __future__ import annotations

import os

import cv2
import numpy as np

from .image import as_float_rgb
from .models import ModelSpec, find_model, get_session


def model_input_size(spec: ModelSpec, height: int, width: int) -> tuple[int, int]:
    """The (height, width) a photo of this size is resized to for ``spec``.

    Models are fed a square of the manifest's ``input_size``, as they were trained.
    """
    del height, width  # square input regardless of the photo's aspect, as in training
    return spec.input_size, spec.input_size


def _resize_area(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    # Area averaging when shrinking: a plain bilinear resize from megapixels aliases badly.
    shrinking = height < rgb.shape[0] and width < rgb.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(rgb, (width, height), interpolation=interpolation)


def preprocess(rgb: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Turn a float RGB image in ``[0, 1]`` into the model's ``1x3xHxW`` input tensor."""
    height, width = model_input_size(spec, *rgb.shape[:2])
    small = _resize_area(rgb, height, width)
    if spec.color_order == "BGR":
        small = small[:, :, ::-1]
    if spec.normalization == "minmax_0_255":
        low, high = float(small.min()), float(small.max())
        small = (small - low) * np.float32(255 / max(high - low, 1e-6))
    else:
        small = (small - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return np.ascontiguousarray(small.transpose(2, 0, 1)[None], dtype=np.float32)


def predict_probability(
    image: np.ndarray, model: str | os.PathLike | ModelSpec | None = None
) -> np.ndarray:
    """Predict the sky probability of a photo at the model's resolution.

    Parameters
    ----------
    image : ndarray
        ``HxW``, ``HxWx3`` or ``HxWx4`` photo, uint8, uint16 or float in ``[0, 1]``. Alpha is
        ignored.
    model : str, path-like, ModelSpec or None, optional
        Model id, ``.onnx`` path or spec; ``None`` uses the default model.

    Returns
    -------
    ndarray
        float32 ``h x w`` sky probability in ``[0, 1]`` at the model's input resolution
        (1 = sky). It is the model's output as is: never min-max stretched, so a photo
        without sky stays near 0.

    Raises
    ------
    ImageError
        For unusable images.
    ModelError
        For unknown, missing or tampered models.

    Examples
    --------
    >>> prob = predict_probability(photo, model="u2netp")  # doctest: +SKIP
    >>> prob.shape, prob.dtype  # doctest: +SKIP
    ((384, 384), dtype('float32'))
    """
    spec = find_model(model)
    rgb = as_float_rgb(image)
    session = get_session(spec)
    tensor = preprocess(rgb, spec)
    (output,) = session.run([spec.output_name], {spec.input_name: tensor})
    probability = np.asarray(output, dtype=np.float32).reshape(output.shape[-2:])
    if spec.output == "logits":
        probability = 1.0 / (1.0 + np.exp(-probability))
    return np.clip(probability, 0.0, 1.0).astype(np.float32, copy=False)
