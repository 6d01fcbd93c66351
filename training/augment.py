"""Training-time augmentation of cached images and masks (numpy and OpenCV, float32).

Geometry (random resized crop, flip) acts on image and mask together; the photometric
changes (exposure, white balance, saturation, gamma, night and dusk looks, noise, blur) act on
the image only; :func:`swap_sky` replaces the sky of a labelled image by another sky, and
:func:`defocus_top` blurs the top of a picture without sky as a shallow depth of field would.
:func:`overcast_look` and :func:`gradient_sky` make the pale, even skies that the real sky
photos lack (overcast, haze, a plain dusk or night gradient), as backgrounds for composites and
sky swaps.
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


def overcast_look(sky: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A real sky made grey and muted: pale and flat as under high overcast or haze, or, one
    time in four, dark as under storm clouds.

    ``sky`` is float32 RGB in ``[0, 1]``; its cloud texture is kept at a fraction of its
    contrast, and the result brightens towards the bottom rows (the horizon). Its colour goes
    grey to slightly blue: a sunset kept pale and warm would look like beige wood or plaster.
    """
    gray = sky.mean(axis=2, keepdims=True)
    pale = gray + (sky - gray) * np.float32(rng.uniform(0.0, 0.3))
    if rng.random() < 0.25:
        level, contrast = rng.uniform(0.15, 0.5), rng.uniform(0.4, 1.0)
    else:
        level, contrast = rng.uniform(0.55, 0.97), rng.uniform(0.15, 0.6)
    pale = np.float32(level) + (pale - pale.mean()) * np.float32(contrast)
    rows = np.linspace(-1.0, 1.0, sky.shape[0], dtype=np.float32)[:, None, None]
    pale = pale + np.float32(rng.uniform(0.0, 0.12)) * rows
    cool = rng.uniform(0.0, 0.06)
    pale = pale * np.array([1.0 - cool, 1.0, 1.0 + cool], np.float32)
    return np.clip(pale, 0.0, 1.0).astype(np.float32, copy=False)


#: :func:`gradient_sky`'s kinds: how often each is drawn (mostly the pale kinds the sky photos
#: lack), then the top and the bottom colour, each drawn between two RGB ends.
_GRADIENT_SKIES = {
    "overcast": (0.45, ((0.62, 0.64, 0.68), (0.90, 0.91, 0.93)), ((0.78, 0.79, 0.80), (1, 1, 1))),
    "haze": (0.25, ((0.35, 0.52, 0.78), (0.70, 0.80, 0.93)), ((0.82, 0.86, 0.90), (1, 1, 1))),
    "dusk": (0.15, ((0.15, 0.20, 0.42), (0.45, 0.45, 0.68)), ((0.95, 0.50, 0.25), (1, 0.8, 0.55))),
    "night": (0.15, ((0.0, 0.01, 0.04), (0.05, 0.07, 0.17)), ((0.05, 0.06, 0.12), (0.2, 0.2, 0.3))),
}


def _colour_between(ends: tuple, rng: np.random.Generator) -> np.ndarray:
    """A colour on the line between two RGB ends, with a little brightness and tint jitter."""
    low, high = (np.asarray(end, np.float32) for end in ends)
    colour = low + (high - low) * np.float32(rng.uniform())
    jitter = np.float32(rng.uniform(0.85, 1.05)) * rng.uniform(0.97, 1.03, size=3)
    return colour * jitter.astype(np.float32)


def _smooth_noise(
    height: int, width: int, rng: np.random.Generator, octaves: int = 4
) -> np.ndarray:
    """Zero-mean cloud-like noise in about ``[-1, 1]``: random grids upsampled and summed."""
    noise = np.zeros((height, width), np.float32)
    for octave in range(octaves):
        cells = 2 ** (octave + 1)
        grid = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
        noise += cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC) / 2**octave
    return noise / 2.0


def _stars(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A star field, sometimes with a faint Milky Way band: float32 ``HxWx1`` light to add."""
    light = np.zeros((height, width), np.float32)
    count = int(rng.uniform(0.0005, 0.006) * height * width)
    rows, cols = rng.integers(0, height, count), rng.integers(0, width, count)
    np.add.at(light, (rows, cols), rng.exponential(0.25, count).astype(np.float32))
    light = cv2.GaussianBlur(light, (0, 0), float(rng.uniform(0.4, 1.0))) * np.float32(4.0)
    if rng.random() < 0.5:
        # A band across the sky whose brightness follows cloud-like noise.
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        angle = rng.uniform(0.0, np.pi)
        distance = (x - width / 2) * np.sin(angle) - (y - height / 2) * np.cos(angle)
        band = np.exp(-((distance / (rng.uniform(0.08, 0.25) * max(height, width))) ** 2))
        glow = band * (0.6 + 0.4 * _smooth_noise(height, width, rng, octaves=5))
        light += glow.clip(0.0, None) * np.float32(rng.uniform(0.03, 0.12))
    return light[..., None]


def gradient_sky(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth synthetic sky: a vertical two-colour gradient with faint cloud texture, and
    stars at night.

    Returns float32 RGB ``height x width x 3`` in ``[0, 1]``.
    """
    kinds = list(_GRADIENT_SKIES)
    shares = np.array([_GRADIENT_SKIES[k][0] for k in kinds])
    kind = kinds[int(rng.choice(len(kinds), p=shares / shares.sum()))]
    _, top_ends, bottom_ends = _GRADIENT_SKIES[kind]
    top, bottom = _colour_between(top_ends, rng), _colour_between(bottom_ends, rng)
    rows = np.linspace(0.0, 1.0, height, dtype=np.float32) ** np.float32(rng.uniform(0.7, 2.0))
    sky = top + (bottom - top) * rows[:, None, None]
    sky = np.broadcast_to(sky, (height, width, 3)).copy()
    texture = _smooth_noise(height, width, rng)[..., None] * np.float32(rng.uniform(0.0, 0.08))
    sky = sky * (1.0 + texture)
    if kind == "night":
        sky = sky + _stars(height, width, rng) * np.array([0.95, 0.97, 1.0], np.float32)
    return np.clip(sky, 0.0, 1.0).astype(np.float32, copy=False)


def defocus_top(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur the upper part of a picture as a shallow depth of field blurs a background.

    Close-ups often have a smooth, out-of-focus top that is not sky (a crowd, leaves, a
    table); shown on pictures without sky, it teaches that blur alone does not make sky.
    ``image`` is float32 RGB ``HxWx3``; the blur ramps out between 30 % and 80 % of its height.
    """
    height = image.shape[0]
    sigma = float(rng.uniform(2.0, 8.0)) * height / 192
    blurred = cv2.GaussianBlur(image, (0, 0), sigma)
    edge = rng.uniform(0.3, 0.8) * height
    ramp = rng.uniform(0.05, 0.3) * height
    rows = np.arange(height, dtype=np.float32)
    weight = np.clip((edge - rows) / ramp + 0.5, 0.0, 1.0).astype(np.float32)[:, None, None]
    return image * (1.0 - weight) + blurred * weight


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
