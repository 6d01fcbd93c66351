"""Sky probability from an ONNX segmentation model."""

from __future__ import annotations

import math
import os

import cv2
import numpy as np

from .errors import ImageError
from .image import as_float_rgb, check_image_size
from .registry import ModelSpec, find_model
from .sessions import get_session


def model_input_size(spec: ModelSpec, height: int, width: int) -> tuple[int, int]:
    """The ``(height, width)`` a ``height x width`` photo is resized to for ``spec``.

    Size-dynamic models with ``input_geometry`` ``"keep_aspect"`` get an input with the
    photo's aspect ratio, about the area of an ``input_size`` square, each side a multiple of
    ``size_multiple``: panoramas are not squeezed. Fixed-size models, and models whose
    manifest says ``"square"`` (the photo squashed as they were trained), get their
    ``input_size`` square. models/README.md gives the measured choice per model.

    Examples
    --------
    >>> spec = find_model("u2netp")  # doctest: +SKIP
    >>> model_input_size(spec, 3000, 4000)  # doctest: +SKIP
    (320, 448)
    """
    if not (spec.dynamic_size and spec.size_multiple) or spec.input_geometry == "square":
        return spec.input_size, spec.input_size
    multiple = spec.size_multiple
    area = spec.input_size**2
    rows = max(1, round(math.sqrt(area * height / width) / multiple))
    cols = max(1, round(math.sqrt(area * width / height) / multiple))
    # A sliver of a photo clamps its short side to one multiple; keep the area, not the aspect.
    if rows == 1:
        cols = min(cols, area // multiple**2)
    if cols == 1:
        rows = min(rows, area // multiple**2)
    return rows * multiple, cols * multiple


def _check_layout(image: np.ndarray) -> np.ndarray:
    """Check shape, size and dtype without touching pixels; return the image without alpha."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3))):
        raise ImageError(
            f"expected an HxW, HxWx3 or HxWx4 image, got an array of shape {image.shape}"
        )
    check_image_size(image.shape[0], image.shape[1])
    if image.dtype not in (np.uint8, np.uint16) and image.dtype.kind != "f":
        raise ImageError(
            f"unsupported image dtype {image.dtype}; use uint8, uint16 or float in [0, 1]"
        )
    return image


def resize_for_model(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a photo to ``height x width`` float32 RGB in ``[0, 1]``.

    The resize runs on the photo's own dtype before the conversion to float, so a 24 MP photo
    is never copied at full size. Value checks run on the small result; area averaging
    carries any NaN of the photo into it, so those are still refused.

    Parameters
    ----------
    image : ndarray
        ``HxW``, ``HxWx1``, ``HxWx3`` or ``HxWx4`` photo, uint8, uint16 or float in ``[0, 1]``.
    height, width : int
        Output size.

    Returns
    -------
    ndarray
        float32 ``height x width x 3``.
    """
    image = np.ascontiguousarray(_check_layout(image))
    if image.dtype.kind == "f" and image.dtype != np.float32:
        image = image.astype(np.float32)
    # Exact halvings take OpenCV's fast area path: from 12 MP uint8 to 448x320, one halving
    # and a final area step cost 18 ms against 44 ms for one area step. They stop while four
    # times the target remains, so the final box dominates the blur: halving down to twice the
    # target greyed u2netp's sky between a photo's masts. Odd sides keep the single step.
    while (
        image.shape[0] >= 8 * height
        and image.shape[1] >= 8 * width
        and image.shape[0] % 2 == 0
        and image.shape[1] % 2 == 0
    ):
        image = cv2.resize(
            image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA
        )
    # Area averaging when shrinking: a plain bilinear resize from megapixels aliases badly.
    shrinking = height < image.shape[0] and width < image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    small = cv2.resize(image, (width, height), interpolation=interpolation)
    return as_float_rgb(small)


def preprocess(image: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Turn a photo into the model's ``1x3xHxW`` float32 input tensor."""
    image = _check_layout(image)
    height, width = model_input_size(spec, *image.shape[:2])
    small = resize_for_model(image, height, width)
    if spec.color_order == "BGR":
        small = small[:, :, ::-1]
    if spec.normalization == "minmax_0_255":
        low, high = float(small.min()), float(small.max())
        small = (small - low) * np.float32(255 / max(high - low, 1e-6))
    else:
        small = (small - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    return np.ascontiguousarray(small.transpose(2, 0, 1)[None], dtype=np.float32)


def predict_probability(
    image: np.ndarray,
    model: str | os.PathLike | ModelSpec | None = None,
    *,
    mirror_average: bool | None = None,
) -> np.ndarray:
    """Predict the sky probability of a photo at the model's resolution.

    Parameters
    ----------
    image : ndarray
        ``HxW``, ``HxWx3`` or ``HxWx4`` photo, uint8, uint16 or float in ``[0, 1]``. Alpha is
        ignored.
    model : str, path-like, ModelSpec or None, optional
        Model id, ``.onnx`` path or spec; ``None`` uses the default model.
    mirror_average : bool or None, optional
        Average the model's output over the photo and its left-right mirror image, at twice
        the inference time. ``None`` follows the model's manifest (``"mirror_average"``), which
        turns it on where it was measured to help.

    Returns
    -------
    ndarray
        float32 ``h x w`` sky probability in ``[0, 1]`` at the model's input resolution
        (:func:`model_input_size`; 1 = sky). It is the model's output as is: never min-max
        stretched, so a photo without sky stays near 0.

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
    ((320, 448), dtype('float32'))
    """
    spec = find_model(model)
    tensor = preprocess(image, spec)
    probability = _run_model(spec, tensor)
    if spec.mirror_average if mirror_average is None else mirror_average:
        probability += _run_model(spec, np.ascontiguousarray(tensor[..., ::-1]))[:, ::-1]
        probability *= 0.5
    return probability


def _run_model(spec: ModelSpec, tensor: np.ndarray) -> np.ndarray:
    """The model's ``h x w`` float32 sky probability for one input tensor."""
    session = get_session(spec)
    input_name = spec.input_name or session.get_inputs()[0].name
    output_name = spec.output_name or session.get_outputs()[0].name
    (output,) = session.run([output_name], {input_name: tensor})
    probability = np.asarray(output, dtype=np.float32).reshape(output.shape[-2:])
    if spec.output == "logits":
        probability = 1.0 / (1.0 + np.exp(-probability))
    return np.clip(probability, 0.0, 1.0).astype(np.float32, copy=False)
