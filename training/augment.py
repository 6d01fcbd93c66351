"""Training-time augmentation of cached images and masks (numpy and OpenCV, float32).

Geometry (random resized crop, flip) acts on image and mask together; the photometric
changes (exposure, white balance, saturation, gamma, night and dusk looks, noise, blur) act on
the image only; :func:`swap_sky` replaces the sky of a labelled image by another sky.
"""

from __future__ import annotations

import cv2
import numpy as np

#: ImageNet statistics, the normalisation written into the model's manifest.
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def random_resized_crop(
    image: np.ndarray,
    mask: np.ndarray,
    size: int,
    rng: np.random.Generator,
    *,
    min_area: float = 0.35,
) -> tuple[np.ndarray, np.ndarray]:
    """Crop a random box of ``min_area..1`` of the area (aspect 3:4..4:3), resize to ``size``."""
    height, width = mask.shape
    area = height * width * rng.uniform(min_area, 1.0)
    aspect = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
    crop_w = int(min(width, round(np.sqrt(area * aspect))))
    crop_h = int(min(height, round(np.sqrt(area / aspect))))
    x0 = int(rng.integers(0, width - crop_w + 1))
    y0 = int(rng.integers(0, height - crop_h + 1))
    image = image[y0 : y0 + crop_h, x0 : x0 + crop_w]
    mask = mask[y0 : y0 + crop_h, x0 : x0 + crop_w]
    interpolation = cv2.INTER_AREA if crop_h > size else cv2.INTER_LINEAR
    image = cv2.resize(image, (size, size), interpolation=interpolation)
    mask = cv2.resize(mask, (size, size), interpolation=interpolation)
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(mask)


def swap_sky(image: np.ndarray, mask: np.ndarray, sky: np.ndarray) -> np.ndarray:
    """Put ``sky`` (same size, float RGB) where ``mask`` says sky, blending soft edges."""
    alpha = mask[..., None]
    return image * (1.0 - alpha) + sky * alpha


def photometric(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exposure, white balance, saturation and gamma jitter, then night/dusk looks, blur, noise.

    ``image`` is float32 RGB in ``[0, 1]``; the result is too.
    """
    image = image * np.float32(2.0 ** rng.uniform(-0.8, 0.5))
    image = image * rng.uniform(0.85, 1.15, size=3).astype(np.float32)
    gray = image.mean(axis=2, keepdims=True)
    image = gray + (image - gray) * np.float32(rng.uniform(0.6, 1.4))
    image = np.clip(image, 0.0, 1.0) ** np.float32(rng.uniform(0.75, 1.35))
    look = rng.random()
    if look < 0.12:
        # Night: dark, blue-shifted, noisy.
        image = image ** np.float32(1.5) * np.float32(rng.uniform(0.06, 0.35))
        image = image * np.array([0.8, 0.9, 1.15], np.float32)
        image = image + rng.normal(0.0, rng.uniform(0.005, 0.03), image.shape).astype(np.float32)
    elif look < 0.24:
        # Dusk: warm and dim.
        image = (
            image * np.array([1.15, 0.95, 0.75], np.float32) * np.float32(rng.uniform(0.35, 0.8))
        )
    if rng.random() < 0.1:
        image = cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.5, 1.5)))
    if rng.random() < 0.3:
        image = image + rng.normal(0.0, rng.uniform(0.0, 0.025), image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0).astype(np.float32, copy=False)


def to_tensor_layout(image: np.ndarray) -> np.ndarray:
    """Float RGB ``HxWx3`` in ``[0, 1]`` to the normalised ``3xHxW`` array the model takes."""
    return np.ascontiguousarray(((image - MEAN) / STD).transpose(2, 0, 1), dtype=np.float32)
