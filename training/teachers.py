"""The training-time teachers: the ADE20K DeepLab, u2netp, and the ensemble of the two.

The DeepLab (``../shared/models/teachers``, TFLite, Apache-2.0) knows sky apart from snow,
walls, ceilings and water, where a sky-only network errs, but its edges are coarse; u2netp
(the seed's model) has fine edges and misses some pale skies. Their mean sky probability,
mirror-averaged and upsampled to the photo, is the pseudo-label of the training photos. It is
not refined: on the human labels of ``../shared/data/dev-eval`` the refinement lowered the
ensemble's IoU from 0.849 to 0.837 and its boundary F from 0.758 to 0.716, and raised its false
sky from 0.01 % to 0.66 % (``benchmarks/dev_eval.py --teachers``). The DeepLab runs with
PyPI's ``ai-edge-litert``, a training-time dependency only: nothing in :mod:`skycore` imports
this module.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import cv2
import numpy as np

import skycore

from .composites import SHARED_DIR

DEEPLAB_MODEL = SHARED_DIR / "models" / "teachers" / "deeplabv3-mobilenetv2-ade20k.tflite"
U2NETP_MODEL = SHARED_DIR / "models" / "skyseg-u2netp.onnx"
DEEPLAB_SIZE = 513
#: ADE20K's class index of sky in the DeepLab's 151 outputs (0 = other).
DEEPLAB_SKY = 3


@cache
def _interpreter(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(str(path), num_threads=len(os.sched_getaffinity(0)))
    interpreter.allocate_tensors()
    return interpreter


def deeplab_probability(
    rgb: np.ndarray, *, mirror_average: bool = True, model: Path = DEEPLAB_MODEL
) -> np.ndarray:
    """The DeepLab's sky probability, ``513 x 513`` float32 (the photo squashed to a square).

    Parameters
    ----------
    rgb : ndarray
        ``HxWx3`` uint8 photo.
    mirror_average : bool, optional
        Average over the photo and its left-right mirror image.
    """
    interpreter = _interpreter(Path(model))
    (source,) = interpreter.get_input_details()
    (target,) = interpreter.get_output_details()
    square = cv2.resize(rgb, (DEEPLAB_SIZE, DEEPLAB_SIZE), interpolation=cv2.INTER_AREA)
    inputs = [square, square[:, ::-1]] if mirror_average else [square]
    total = np.zeros((DEEPLAB_SIZE, DEEPLAB_SIZE), np.float32)
    for i, image in enumerate(inputs):
        tensor = (image.astype(np.float32) / np.float32(127.5) - 1)[None]
        interpreter.set_tensor(source["index"], np.ascontiguousarray(tensor))
        interpreter.invoke()
        logits = interpreter.get_tensor(target["index"])[0]
        # Softmax's sky share without the full 151-channel exponentials array twice over.
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        sky = shifted[..., DEEPLAB_SKY] / shifted.sum(axis=-1)
        total += sky[:, ::-1] if i else sky
    return total / len(inputs)


def u2netp_probability(rgb: np.ndarray, *, model: str | Path = U2NETP_MODEL) -> np.ndarray:
    """u2netp's mirror-averaged sky probability, at the reference manifest's 384 area with
    the photo's aspect (skycore's geometry)."""
    return skycore.predict_probability(rgb, model=model, mirror_average=True)


def ensemble_probability(rgb: np.ndarray, *, u2netp: str | Path = U2NETP_MODEL) -> np.ndarray:
    """Mean of the DeepLab's and u2netp's mirror-averaged sky probabilities, at u2netp's
    input size (both resized there; the DeepLab's square stretched back to the photo's
    aspect)."""
    fine = u2netp_probability(rgb, model=u2netp)
    coarse = cv2.resize(deeplab_probability(rgb), fine.shape[::-1], interpolation=cv2.INTER_AREA)
    return 0.5 * (fine + coarse)


def teacher_label(rgb: np.ndarray, *, u2netp: str | Path = U2NETP_MODEL) -> np.ndarray:
    """The ensemble's probability upsampled (bilinear) to the photo: float32 ``HxW``, 1 = sky."""
    probability = ensemble_probability(rgb, u2netp=u2netp)
    return cv2.resize(probability, rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)
