"""Full-resolution refinement of a sky probability (Liba et al., arXiv 2006.10172, sec. 4.2).

The model's probability is turned into a confidence, then a confidence-weighted guided filter
with a 3x3 colour covariance is solved on a coarse grid; its affine coefficients are upsampled
smoothly and applied to the full-resolution photo, so the mask's edges follow the photo's edges.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .density import estimate_uncertain_probability
from .image import as_float_rgb, as_rgb, unit_scale

#: Added to the diagonal of each cell's colour covariance (the guided filter's epsilon).
COVARIANCE_EPSILON = 0.01**2

#: Default mode: grid cells along the photo's long side (two pixels of a 320-px model output).
GRID_CELLS = 160

#: Confidence thresholds ``(low, high)`` of the default mode, symmetric about 0.5.
THRESHOLDS = (0.4, 0.6)

#: The paper's and the original C++'s thresholds, kept by cpp-compatible mode.
CPP_THRESHOLDS = (0.3, 0.5)


def _round(value: float) -> int:
    # C's round(): half away from zero, as the original C++ uses.
    return int(math.floor(value + 0.5))


def confidence_from_probability(
    probability: np.ndarray,
    *,
    low: float = 0.3,
    high: float = 0.5,
    bias: float = 0.8,
    floor: float = 0.01,
) -> np.ndarray:
    """Confidence of a sky probability (paper eq. 1-2).

    Parameters
    ----------
    probability : ndarray
        float ``HxW`` sky probability in ``[0, 1]``.
    low, high : float, optional
        Probabilities below ``low`` are confident non-sky, above ``high`` confident sky;
        pixels in between get zero confidence.
    bias : float, optional
        Schlick's bias ``b``: ``bias(x) = x / ((1/b - 2) (1 - x) + 1)``.
    floor : float, optional
        Confidence given to pixels just outside the uncertain band, so they still count.

    Returns
    -------
    ndarray
        float32 ``HxW`` confidence in ``[0, 1]``.

    Examples
    --------
    >>> confidence_from_probability(np.array([[0.0, 0.4, 1.0]], np.float32))
    array([[1., 0., 1.]], dtype=float32)
    """
    p = np.asarray(probability, dtype=np.float32)
    distance = np.zeros_like(p)
    below = p < low
    above = p > high
    distance[below] = (low - p[below]) / low
    distance[above] = (p[above] - high) / (1.0 - high)
    x = distance
    confidence = x / ((np.float32(1.0 / bias - 2.0)) * (1.0 - x) + 1.0)
    confidence = np.maximum(confidence, np.float32(floor))
    confidence[~(below | above)] = 0.0
    return confidence.astype(np.float32, copy=False)


_BLUR_TAPS = np.array([1, 3, 3, 1], np.float32) / 8


def _downsample2_antialiased(image: np.ndarray) -> np.ndarray:
    blurred = cv2.sepFilter2D(
        image, -1, _BLUR_TAPS, _BLUR_TAPS, anchor=(1, 1), borderType=cv2.BORDER_REPLICATE
    )
    height, width = blurred.shape[:2]
    return cv2.pyrDown(blurred, dstsize=(_round(width / 2), _round(height / 2)))


def _pyramid_resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Halve with an antialiasing blur while at least twice the target, then resize linearly."""
    while image.shape[1] >= 2 * width and image.shape[0] >= 2 * height:
        image = _downsample2_antialiased(image)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def _upsample_sizes(height: int, width: int, full_height: int, full_width: int) -> list:
    """Sizes of the ``round(log4(ratio))`` linear upsampling steps of the original method.

    Several small linear steps instead of one large one keep the upsampled affine coefficients
    free of the grid's blockiness.
    """
    ratio = max(0.5 * math.log2(full_width / width), 0.5 * math.log2(full_height / height))
    steps = max(1, _round(ratio))
    return [
        (_round(full_width / steps * step), _round(full_height / steps * step))
        for step in range(1, steps + 1)
    ]


def _apply_affine(image: np.ndarray, coefficients: np.ndarray, strip_rows: int = 32) -> np.ndarray:
    """Upsample ``[a_r, a_g, a_b, b]`` smoothly to the image and evaluate ``a . rgb + b``.

    The last, full-resolution upsampling step is done strip by strip (an exact bilinear
    resize expressed as an affine warp of each strip), so the full-resolution coefficients are
    never held at once; strips of 32 rows keep each strip's temporaries in cache. Each strip
    is extended with a constant fourth channel (the alpha OpenCV adds) so that the offset
    ``b`` is one more product, and the products are summed by a 1x4 colour transform.
    """
    height, width = image.shape[:2]
    sizes = _upsample_sizes(*coefficients.shape[:2], height, width)
    for size in sizes[:-1]:
        coefficients = _pyramid_resize(coefficients, *size)
    scale_x = coefficients.shape[1] / width
    scale_y = coefficients.shape[0] / height
    to_unit = unit_scale(image.dtype)
    channel_sum = np.ones((1, 4), np.float32)
    output = np.empty((height, width), np.float32)
    for top in range(0, height, strip_rows):
        bottom = min(height, top + strip_rows)
        warp = np.array(
            [
                [scale_x, 0.0, 0.5 * scale_x - 0.5],
                [0.0, scale_y, (top + 0.5) * scale_y - 0.5],
            ]
        )
        strip_coefficients = cv2.warpAffine(
            coefficients,
            warp,
            (width, bottom - top),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        rgba = cv2.cvtColor(image[top:bottom], cv2.COLOR_RGB2RGBA)
        products = cv2.multiply(rgba, strip_coefficients, scale=to_unit, dtype=cv2.CV_32F)
        output[top:bottom] = cv2.transform(products, channel_sum)
    return np.clip(output, 0.0, 1.0, out=output)


def _solve_ldl3(cov: list[np.ndarray], rhs: np.ndarray) -> np.ndarray:
    """Solve the symmetric 3x3 systems ``cov x = rhs`` of every grid cell by LDL^T (paper eq. 7).

    ``cov`` holds the upper triangle ``[a11, a12, a13, a22, a23, a33]``, each ``h x w``;
    ``rhs`` is ``h x w x 3``.
    """
    a11, a12, a13, a22, a23, a33 = cov
    b1, b2, b3 = rhs[..., 0], rhs[..., 1], rhs[..., 2]
    d1 = a11
    l12 = a12 / d1
    d2 = a22 - l12 * a12
    l13 = a13 / d1
    l23 = (a23 - l13 * a12) / d2
    d3 = a33 - l13 * a13 - l23 * l23 * d2
    y1 = b1
    y2 = b2 - l12 * y1
    y3 = b3 - l13 * y1 - l23 * y2
    x3 = y3 / d3
    x2 = y2 / d2 - l23 * x3
    x1 = y1 / d1 - l12 * x2 - l13 * x3
    return np.stack([x1, x2, x3], axis=-1)


def _weighted_means(
    rgb: np.ndarray, probability: np.ndarray, confidence: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
    """Confidence-weighted grid means of colour, probability, colour outer products and p * colour.

    Every product is formed and reduced one channel at a time, so besides the inputs at most
    one weighted channel and one product exist at full size.
    """
    denominator = np.maximum(_pyramid_resize(confidence, width, height), 1e-12)

    def mean(weighted: np.ndarray) -> np.ndarray:
        return _pyramid_resize(weighted, width, height) / denominator

    channels = [rgb[..., c] for c in range(3)]
    mean_rgb, mean_p_rgb, second_moments = [], [], []
    for first in range(3):
        weighted = channels[first] * confidence
        mean_rgb.append(mean(weighted))
        mean_p_rgb.append(mean(weighted * probability))
        # Upper triangle of the outer product, row by row: rr rg rb, gg gb, bb.
        second_moments += [mean(weighted * channels[second]) for second in range(first, 3)]
    mean_p = mean(probability * confidence)
    return np.dstack(mean_rgb), mean_p, second_moments, np.dstack(mean_p_rgb)


def _solve_affine(
    mean_rgb: np.ndarray,
    mean_p: np.ndarray,
    second_moments: list[np.ndarray],
    mean_p_rgb: np.ndarray,
    epsilon: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell guided-filter solve: slope ``a`` (h x w x 3) and offset ``b`` (h x w)."""
    r, g, b = mean_rgb[..., 0], mean_rgb[..., 1], mean_rgb[..., 2]
    outer = [r * r, r * g, r * b, g * g, g * b, b * b]
    cov = [m - o for m, o in zip(second_moments, outer, strict=True)]
    for diagonal in (0, 3, 5):
        cov[diagonal] = cov[diagonal] + np.float32(epsilon)
    cross = mean_p_rgb - mean_p[..., None] * mean_rgb
    slope = _solve_ldl3(cov, cross)
    offset = mean_p - (slope * mean_rgb).sum(axis=-1)
    return slope.astype(np.float32), offset.astype(np.float32)


def _refine_cpp_compatible(
    image: np.ndarray, probability: np.ndarray, confidence: np.ndarray
) -> np.ndarray:
    """The original C++ refinement: one grid cell per 256 x 256 pixels, pyramid reductions."""
    rgb = as_float_rgb(image)
    height, width = probability.shape
    grid_w, grid_h = max(1, _round(width / 256)), max(1, _round(height / 256))
    means = _weighted_means(rgb, probability, confidence, grid_w, grid_h)
    del rgb
    slope, offset = _solve_affine(*means, epsilon=COVARIANCE_EPSILON)
    return _apply_affine(image, np.dstack([slope, offset]))


def _as_probability_plane(probability: np.ndarray) -> np.ndarray:
    """``HxW`` view of a probability (the first channel of ``HxWxC``), shape checked."""
    probability = np.asarray(probability)
    if probability.ndim == 3:
        probability = probability[..., 0]
    if probability.ndim != 2 or probability.size == 0:
        raise ValueError(
            f"probability must be a non-empty HxW array, got shape {probability.shape}"
        )
    return probability


def _probability_at(probability: np.ndarray, height: int, width: int) -> np.ndarray:
    """The probability as float32 ``height x width`` in ``[0, 1]``: area-averaged where it is
    finer, bilinear where it is coarser. Checked after resizing, which carries NaN and
    infinity along, so a photo-sized probability is not scanned at full resolution."""
    probability = _as_probability_plane(probability)
    if probability.dtype != np.float32:
        probability = probability.astype(np.float32)
    if probability.shape != (height, width):
        shrinking = probability.shape[0] >= height and probability.shape[1] >= width
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        probability = cv2.resize(probability, (width, height), interpolation=interpolation)
    if not np.isfinite(probability).all():
        raise ValueError("probability has NaN or infinite values")
    return np.clip(probability, 0.0, 1.0)


def refine(
    image: np.ndarray,
    probability: np.ndarray,
    *,
    cpp_compatible: bool = False,
    colour_density: bool = False,
    smoothing: bool = False,
    grid_cells: int = GRID_CELLS,
    epsilon: float = COVARIANCE_EPSILON,
    sharpen: float = 0.5,
    density_radius: float = 2.0,
    low: float | None = None,
    high: float | None = None,
    bias: float = 0.8,
    floor: float = 0.01,
) -> np.ndarray:
    """Refine a sky probability to a full-resolution mask that follows the photo's edges.

    Parameters
    ----------
    image : ndarray
        ``HxW``, ``HxWx3`` or ``HxWx4`` photo, uint8, uint16 or float in ``[0, 1]``.
    probability : ndarray
        float ``hxw`` sky probability in ``[0, 1]`` at any resolution: the model's, or the
        same upsampled to the photo's size, with the same result at the same cost.
    cpp_compatible : bool, optional
        Reproduce the original C++ implementation: one grid cell per 256 x 256 pixels,
        whatever the photo, the probability upsampled to the photo. The default instead
        lays a grid of ``grid_cells`` cells along the photo's long side.
    colour_density : bool, optional
        Re-estimate uncertain pixels with colour densities of confident sky and non-sky
        before the guided filter (:func:`skycore.density.estimate_uncertain_probability`).
        Not used in cpp-compatible mode.
    smoothing : bool, optional
        Finish with the original's edge-preserving bilateral filter (sigma colour 20/255,
        sigma space 10 px).
    grid_cells : int, optional
        Default mode: grid cells along the photo's long side (never more than half the
        probability's pixels along it, and no cell under 4 photo pixels). The default, 160, is two
        pixels of a 320-px model output per cell. Smaller cells follow the network more
        closely, larger ones let the photo's colours decide over wider areas.
    epsilon : float, optional
        Regularisation added to each cell's colour covariance.
    sharpen : float, optional
        Default mode: how far the fitted target moves from the network's probability toward
        the hard label each confident pixel stands for (0 = the probability as in the paper,
        1 = hard labels). Removes the haze a soft network leaves along the skyline.
    density_radius : float, optional
        Width, in grid cells, of the band around the sky boundary that density estimation
        re-estimates.
    low, high : float or None, optional
        Confidence thresholds, see :func:`confidence_from_probability`. ``None``: 0.4 and
        0.6 in the default mode, symmetric about the mask's 0.5 threshold so that the fitted
        edge lies where the probability crosses 0.5; 0.3 and 0.5 (the paper's) in
        cpp-compatible mode.
    bias, floor : float, optional
        Confidence parameters, see :func:`confidence_from_probability`.

    Returns
    -------
    ndarray
        float32 ``HxW`` sky mask in ``[0, 1]`` (1 = sky), the photo's size.

    Notes
    -----
    Each grid cell fits ``p ~ a . rgb + b`` by confidence-weighted least squares (a guided
    filter with a 3x3 colour covariance, solved by LDL^T); ``a`` and ``b`` are upsampled in
    several linear steps and evaluated on the full-resolution photo, one strip at a time.

    In the default mode the grid follows the photo, not the probability's pixel count: the
    cell statistics are computed on a working grid of four samples per cell side, and the
    probability is read there (area-averaged if it is finer). A probability saved at the
    photo's size carries no more information than the model output it was upsampled from,
    so it costs no more and gives the same mask.

    References
    ----------
    .. [1] O. Liba et al., "Sky Optimization: Semantically aware image processing of skies in
       low-light photography", CVPR Workshops 2020, arXiv:2006.10172.
    """
    image = as_rgb(image)
    if cpp_compatible:
        low = CPP_THRESHOLDS[0] if low is None else low
        high = CPP_THRESHOLDS[1] if high is None else high
        height, width = image.shape[:2]
        full_probability = _probability_at(probability, height, width)
        confidence = confidence_from_probability(
            full_probability, low=low, high=high, bias=bias, floor=floor
        )
        mask = _refine_cpp_compatible(image, full_probability, confidence)
    else:
        mask = _refine_photo_grid(
            image,
            probability,
            grid_cells=grid_cells,
            epsilon=epsilon,
            sharpen=sharpen,
            colour_density=colour_density,
            density_radius=density_radius,
            confidence_options={
                "low": THRESHOLDS[0] if low is None else low,
                "high": THRESHOLDS[1] if high is None else high,
                "bias": bias,
                "floor": floor,
            },
        )
    if smoothing:
        mask = cv2.bilateralFilter(mask * 255, 0, 20, 10) * np.float32(1 / 255)
        np.clip(mask, 0, 1, out=mask)
    return mask


def _refine_photo_grid(
    image: np.ndarray,
    probability: np.ndarray,
    *,
    grid_cells: int,
    epsilon: float,
    sharpen: float,
    colour_density: bool,
    density_radius: float,
    confidence_options: dict,
) -> np.ndarray:
    """Guided filter on a grid of ``grid_cells`` cells along the photo's long side.

    The grid statistics are averages over cells, so they are computed from the photo and the
    probability area-averaged to a working grid of four samples per cell side; only the
    final evaluation of the affine model touches full-resolution pixels.
    """
    height, width = image.shape[:2]
    probability = _as_probability_plane(probability)
    # A cell holds at least two probability pixels: a fit needs more than one label.
    cells = max(1, min(int(grid_cells), max(probability.shape) // 2))
    cell = float(np.clip(max(height, width) / cells, 4.0, 256.0))
    work_px = max(1.0, cell / 4.0)
    work_w, work_h = max(1, _round(width / work_px)), max(1, _round(height / work_px))
    small = image
    if (work_w, work_h) != (width, height):
        small = cv2.resize(image, (work_w, work_h), interpolation=cv2.INTER_AREA)
    rgb = as_float_rgb(small)
    p = _probability_at(probability, work_h, work_w)
    if colour_density:
        radius = max(1, _round(density_radius * cell / work_px))
        # Re-estimated at full resolution, where twigs are resolved, then averaged back:
        # a working pixel's label becomes the fraction of its area that is sky.
        full = estimate_uncertain_probability(
            image,
            p,
            low=confidence_options["low"],
            high=confidence_options["high"],
            radius=radius,
            image_at_probability=rgb,
        )
        if full.shape != p.shape:
            p = cv2.resize(full, (work_w, work_h), interpolation=cv2.INTER_AREA)
    confidence = confidence_from_probability(p, **confidence_options)
    # A trace of weight everywhere: a cell with no confident pixel falls back to an
    # unweighted fit instead of dividing by zero.
    np.maximum(confidence, np.float32(1e-4), out=confidence)
    grid_w, grid_h = max(1, _round(width / cell)), max(1, _round(height / cell))
    # Fit toward the labels the confident pixels stand for (0 below low, 1 above high), not
    # only toward the network's hedged values: a soft network otherwise leaves a grey haze
    # along the skyline.
    low, high = confidence_options["low"], confidence_options["high"]
    labels = np.clip((p - low) / (high - low), 0.0, 1.0)
    target = (1.0 - sharpen) * p + sharpen * labels
    means = _weighted_means(rgb, target, confidence, grid_w, grid_h)
    slope, offset = _solve_affine(*means, epsilon=epsilon)
    return _apply_affine(image, np.dstack([slope, offset]))
