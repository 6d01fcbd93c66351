"""Colour density estimation for uncertain sky pixels (Liba et al., arXiv 2006.10172, sec. 4.2).

The network's probability is unreliable where sky and foreground meet at a scale finer than
its input (sky between branches, thin structures) and where it hedges (probability between
the thresholds). There the colour of the pixel is the better witness: a kernel density
estimate of the colours of confidently-sky pixels, and one of confidently-non-sky pixels,
give by Bayes' rule a colour-based sky probability that replaces the network's.

The kernel is an isotropic Gaussian in RGB,
``K(d) = exp(-|d|^2 / (2 sigma^2)) / (2 pi sigma^2)^(3/2)``. The original C++ attempt
multiplied the squared distance by ``sigma^2 / 2`` instead of dividing by ``2 sigma^2``,
which with ``sigma = 0.01`` makes every kernel value ~1 and the estimate a constant. Here
the densities are histograms on a ``bins^3`` colour grid blurred by the same Gaussian (a
binned kernel density estimate), so the cost does not grow with the number of samples.
"""

from __future__ import annotations

import cv2
import numpy as np

from .image import as_float_rgb


def _bin_index(colours: np.ndarray, bins: int) -> np.ndarray:
    """Flat index of each ``N x 3`` colour's cell on the ``bins^3`` grid.

    Integer colours are binned by integer arithmetic, without a float copy.
    """
    if colours.dtype in (np.uint8, np.uint16):
        levels = 256 if colours.dtype == np.uint8 else 65536
        index = colours.astype(np.int64) * bins // levels
    else:
        index = np.clip((colours * bins).astype(np.int64), 0, bins - 1)
    return (index[:, 0] * bins + index[:, 1]) * bins + index[:, 2]


def colour_density(colours: np.ndarray, *, sigma: float = 0.02, bins: int = 32) -> np.ndarray:
    """Binned Gaussian kernel density estimate of RGB colours.

    Parameters
    ----------
    colours : ndarray
        ``N x 3`` colours: float in ``[0, 1]``, uint8 or uint16.
    sigma : float, optional
        Kernel standard deviation, in colour units (full scale = 1).
    bins : int, optional
        Grid cells per colour axis.

    Returns
    -------
    ndarray
        float32 ``bins x bins x bins`` density (integrates to 1 over the unit cube; zeros
        if ``colours`` is empty).
    """
    if not len(colours):
        return np.zeros((bins, bins, bins), np.float32)
    counts = np.bincount(_bin_index(colours, bins), minlength=bins**3).astype(np.float32)
    histogram = counts.reshape(bins, bins, bins) * np.float32(bins**3 / len(colours))
    blur = _gaussian_matrix(bins, sigma * bins)
    # The 3-D Gaussian is separable: one matrix product per colour axis.
    for axis in range(3):
        histogram = np.moveaxis(np.tensordot(blur, histogram, axes=(1, axis)), 0, axis)
    return histogram.astype(np.float32)


def _gaussian_matrix(size: int, sigma: float) -> np.ndarray:
    """``size x size`` matrix of a 1-D Gaussian blur with zero padding outside the grid.

    Each row is normalised as the kernel on an unbounded grid would be, so mass blurred off
    the edge of the colour cube is lost, not folded back.
    """
    if sigma <= 0:
        return np.eye(size, dtype=np.float32)
    reach = size + int(np.ceil(4 * sigma))
    norm = np.exp(-(np.arange(-reach, reach + 1) ** 2) / (2 * sigma**2)).sum()
    offsets = np.arange(size)[:, None] - np.arange(size)[None, :]
    return (np.exp(-(offsets**2) / (2 * sigma**2)) / norm).astype(np.float32)


def uncertain_region(
    probability: np.ndarray, *, low: float = 0.3, high: float = 0.5, radius: int = 2
) -> np.ndarray:
    """Pixels whose sky probability the colour densities should re-estimate.

    These are the pixels between the thresholds, and every pixel within ``radius`` pixels of
    both confident sky and confident non-sky: the band where a coarse network misses gaps
    such as sky between branches.
    """
    sky = (probability > high).astype(np.uint8)
    ground = (probability < low).astype(np.uint8)
    size = 2 * radius + 1
    kernel = np.ones((size, size), np.uint8)
    near_sky = cv2.dilate(sky, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
    near_ground = cv2.dilate(ground, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
    return (near_sky & near_ground) | ((sky | ground) == 0)


def estimate_uncertain_probability(
    image: np.ndarray,
    probability: np.ndarray,
    *,
    low: float = 0.3,
    high: float = 0.5,
    radius: int = 2,
    sigma: float = 0.02,
    bins: int = 32,
    prior_range: tuple[float, float] = (0.05, 0.95),
    max_samples: int = 200_000,
    seed: int = 0,
    image_at_probability: np.ndarray | None = None,
) -> np.ndarray:
    """Replace the probability of uncertain pixels by a colour-density estimate.

    Parameters
    ----------
    image : ndarray
        ``HxWx3`` RGB photo (uint8, uint16 or float in ``[0, 1]``) at a resolution at least
        the probability's. Uncertain pixels are re-estimated at this resolution, where thin
        structures such as twigs are still resolved.
    probability : ndarray
        float32 ``hxw`` sky probability.
    low, high : float, optional
        Confidence thresholds: below ``low`` is confident non-sky, above ``high`` confident sky.
    radius : int, optional
        Half-width, in probability pixels, of the band around the sky boundary that is
        re-estimated.
    sigma : float, optional
        Kernel width of the colour densities.
    bins : int, optional
        Colour grid resolution of the densities.
    prior_range : (float, float), optional
        The network's probability, clipped to this range, is the prior of Bayes' rule, so
        colours that sky and foreground share keep the network's opinion.
    max_samples : int, optional
        At most this many confident pixels of each class build a density (random subset).
    seed : int, optional
        Seed of that subset, for repeatable results.
    image_at_probability : ndarray, optional
        The photo already resized to the probability's resolution (float RGB), if the caller
        has it; the confident colours are sampled there.

    Returns
    -------
    ndarray
        float32 ``HxW`` probability at the image's resolution: re-estimated in the uncertain
        region, bilinearly upsampled elsewhere. Only upsampled if either class has no
        confident pixel.
    """
    height, width = image.shape[:2]
    probability = np.asarray(probability, np.float32)
    full = probability
    if probability.shape != (height, width):
        full = cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR)
    sky = probability > high
    ground = probability < low
    if not sky.any() or not ground.any():
        return full.copy() if full is probability else full
    small = image_at_probability
    if small is None:
        small = image
        if probability.shape != (height, width):
            small = cv2.resize(image, probability.shape[::-1], interpolation=cv2.INTER_AREA)
        small = as_float_rgb(small)
    rng = np.random.default_rng(seed)

    def sample(mask: np.ndarray) -> np.ndarray:
        colours = small[mask]
        if len(colours) > max_samples:
            colours = colours[rng.choice(len(colours), max_samples, replace=False)]
        return colours

    sky_density = colour_density(sample(sky), sigma=sigma, bins=bins)
    ground_density = colour_density(sample(ground), sigma=sigma, bins=bins)
    region = uncertain_region(probability, low=low, high=high, radius=radius)
    if region.shape != (height, width):
        region = cv2.resize(
            region.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST
        ).astype(bool)
    result = full.copy() if full is probability else full
    flat = np.flatnonzero(region)
    cells = _bin_index(image.reshape(-1, 3)[flat], bins)
    prior = np.clip(result.ravel()[flat], *prior_range)
    likely_sky = sky_density.ravel()[cells] * prior
    likely_ground = ground_density.ravel()[cells] * (1 - prior)
    total = likely_sky + likely_ground
    result.ravel()[flat] = np.where(
        total > 0, likely_sky / np.maximum(total, 1e-30), result.ravel()[flat]
    )
    return result
