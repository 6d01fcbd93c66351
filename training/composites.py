"""Sky composites with exact masks: Stellarium ground panoramas in front of real skies.

The Debian package ``stellarium-data`` ships landscape panoramas whose sky was cut out by
hand (RGBA, GPL-2+). Their alpha channel is an exact sky label, tree edges included. This
module turns a landscape into a flat, square-pixel RGBA strip, crops a window that holds both
ground and sky, and lays it over a real sky photo::

    rng = np.random.default_rng(0)
    landscape = list_landscapes()[0]
    sky = held_out_skies()[0]
    image, mask = make_composite(landscape, sky, size=(4000, 3000), rng=rng, split="held_out")

``image`` is ``HxWx3`` uint8 RGB and ``mask`` ``HxW`` float32 with 1 = sky (fractional at
soft edges). Held-out parts are fixed by :data:`SPLIT_SEED`: a contiguous quarter of every
panorama's width, and a quarter of the skies.
"""

from __future__ import annotations

import configparser
import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from skycore import as_float_rgb, read_image

#: Where ``stellarium-data`` installs its landscapes.
LANDSCAPE_DIR = Path("/usr/share/stellarium/landscapes")
#: The shared data folder beside the repository (``../shared``).
SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
SKY_DIR = SHARED_DIR / "data" / "skies"

#: Seed of every held-out choice in this module.
SPLIT_SEED = 5
#: Share of each panorama's width and of the sky photos kept for evaluation.
HELD_OUT_FRACTION = 0.25

#: Sky photos whose licence forbids shipping derived weights (non-commercial or unknown);
#: they may be used for evaluation only. See ``../shared/data/skies/SOURCES.md``.
EVAL_ONLY_SKY_PREFIXES = ("skyar_", "zero1777_")
#: Sky photos that hold something other than sky (spaceships, castles, a planet with a
#: horizon strip): their pixels would be labelled sky, so they are left out.
NOT_SKY_ONLY_PREFIXES = ("skyar_fantasy_",)
#: Share of a sky photo's height that crops come from; the bottom of several sky photos
#: holds a thin horizon, sea or land strip.
SKY_TOP_SHARE = 0.8

# How far below the horizon a crop may reach, in degrees: photos rarely look further down,
# and spherical maps distort (or hold no-data fill) beyond it.
_LOWEST_ELEVATION = -35.0
# Fewest transparent pixels a texture needs to count as having a cut-out sky.
_MIN_SKY_SHARE = 0.02
# Narrowest texture (pixels) worth cropping; Stellarium's planet maps are 256 px wide.
_MIN_TEXTURE_WIDTH = 512


@dataclass(frozen=True)
class Panorama:
    """A landscape as one RGBA strip with square pixels.

    Attributes
    ----------
    name : str
        Folder name of the landscape.
    rgba : ndarray
        ``HxWx4`` float32 in ``[0, 1]``, colour premultiplied by alpha.
    horizon : ndarray
        int32 ``W``: first opaque row of every column (``H`` where a column is all sky).
    bottom : int
        Lowest row a crop may reach.
    wraps : bool
        Whether the strip covers 360 degrees (so held-out columns form one block).
    """

    name: str
    rgba: np.ndarray
    horizon: np.ndarray
    bottom: int
    wraps: bool


def _read_ini(folder: Path) -> configparser.SectionProxy | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(folder / "landscape.ini", encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    return parser["landscape"] if parser.has_section("landscape") else None


def _texture_files(folder: Path, ini: configparser.SectionProxy) -> list[Path]:
    kind = ini.get("type", "").strip()
    if kind == "old_style":
        sides = int(ini.get("nbside", "0"))
        names = []
        for i in range(sides):
            tex = ini.get(f"side{i}", "").split(":")[0].strip()
            names.append(ini.get(tex, "").strip())
        return [folder / n for n in names if n]
    if kind in ("spherical", "fisheye") and ini.get("maptex"):
        return [folder / ini.get("maptex").strip()]
    return []


def _load_rgba(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0


def _is_usable(folder: Path) -> bool:
    ini = _read_ini(folder)
    if ini is None:
        return False
    files = _texture_files(folder, ini)
    if not files or not all(f.is_file() for f in files):
        return False
    with Image.open(files[0]) as im:
        if "A" not in im.getbands() or im.width * len(files) < _MIN_TEXTURE_WIDTH:
            return False
        alpha = np.asarray(im.getchannel("A"))
    return float(np.mean(alpha == 0)) >= _MIN_SKY_SHARE


def list_landscapes(folder: Path = LANDSCAPE_DIR) -> list[Path]:
    """Landscape folders whose panorama has a cut-out sky and enough resolution to crop.

    Parameters
    ----------
    folder : Path, optional
        Folder holding Stellarium landscapes, one sub-folder each.

    Returns
    -------
    list of Path
        Sorted landscape folders (empty if ``stellarium-data`` is not installed).
    """
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and _is_usable(p))


def _premultiply(rgba: np.ndarray) -> np.ndarray:
    # Colours under alpha 0 are arbitrary; premultiplying keeps them out of every resize.
    out = rgba.copy()
    out[..., :3] *= out[..., 3:]
    return out


def _square_pixels(rgba: np.ndarray, deg_per_px_x: float, deg_per_px_y: float) -> np.ndarray:
    height = max(1, round(rgba.shape[0] * deg_per_px_y / deg_per_px_x))
    if height == rgba.shape[0]:
        return rgba
    return cv2.resize(rgba, (rgba.shape[1], height), interpolation=cv2.INTER_CUBIC).clip(0, 1)


@functools.lru_cache(maxsize=16)
def load_panorama(landscape: Path) -> Panorama:
    """Build the square-pixel RGBA strip of a landscape folder (cached).

    Raises
    ------
    ValueError
        If the folder is not a usable landscape (see :func:`list_landscapes`).
    """
    landscape = Path(landscape)
    ini = _read_ini(landscape)
    if ini is None or not _is_usable(landscape):
        raise ValueError(f"{landscape}: not a usable Stellarium landscape with a cut-out sky")
    kind = ini.get("type").strip()
    files = _texture_files(landscape, ini)
    if kind == "fisheye":
        # Looking up through a canopy: keep the square inside the image circle, where the
        # lens distortion is mild and there is no fill outside the circle.
        rgba = _load_rgba(files[0])
        side = round(min(rgba.shape[:2]) * 0.62)
        top = (rgba.shape[0] - side) // 2
        left = (rgba.shape[1] - side) // 2
        rgba = _premultiply(rgba[top : top + side, left : left + side])
        # Every column starts in sky somewhere; horizon is where the canopy begins per column.
        return Panorama(landscape.name, rgba, _first_opaque_rows(rgba), side, wraps=False)
    if kind == "old_style":
        tiles = [_load_rgba(f) for f in files]
        tile_h, tile_w = tiles[0].shape[:2]
        tiles = [
            t if t.shape[:2] == (tile_h, tile_w) else cv2.resize(t, (tile_w, tile_h)) for t in tiles
        ]
        rgba = np.concatenate(tiles, axis=1)
        span_y = float(ini.get("decor_alt_angle", "90"))
        bottom_elevation = float(ini.get("decor_angle_shift", "0"))
        deg_per_px_x = 360.0 / rgba.shape[1]
    else:
        rgba = _load_rgba(files[0])
        top_elevation = float(ini.get("maptex_top", "90"))
        bottom_elevation = float(ini.get("maptex_bottom", "-90"))
        span_y = top_elevation - bottom_elevation
        deg_per_px_x = 360.0 / rgba.shape[1]
    deg_per_px_y = span_y / rgba.shape[0]
    rgba = _premultiply(_square_pixels(rgba, deg_per_px_x, deg_per_px_y))
    top_elevation = bottom_elevation + span_y
    lowest_row = (top_elevation - _LOWEST_ELEVATION) / deg_per_px_x
    bottom = int(min(rgba.shape[0], lowest_row))
    return Panorama(landscape.name, rgba, _first_opaque_rows(rgba), bottom, wraps=True)


def _first_opaque_rows(rgba: np.ndarray) -> np.ndarray:
    opaque = rgba[..., 3] > 0.5
    any_opaque = opaque.any(axis=0)
    first = np.argmax(opaque, axis=0)
    return np.where(any_opaque, first, rgba.shape[0]).astype(np.int32)


def held_out_columns(panorama: Panorama) -> tuple[int, int]:
    """The ``[start, stop)`` column block of ``panorama`` reserved for evaluation."""
    width = panorama.rgba.shape[1]
    name_seed = sum(panorama.name.encode())
    rng = np.random.default_rng([SPLIT_SEED, name_seed])
    span = round(width * HELD_OUT_FRACTION)
    start = int(rng.integers(0, width - span + 1))
    return start, start + span


def _column_ranges(panorama: Panorama, split: str) -> list[tuple[int, int]]:
    width = panorama.rgba.shape[1]
    start, stop = held_out_columns(panorama)
    if split == "held_out":
        return [(start, stop)]
    if split == "train":
        return [r for r in ((0, start), (stop, width)) if r[1] - r[0] > 0]
    if split == "any":
        return [(0, width)]
    raise ValueError(f"split must be 'train', 'held_out' or 'any', not {split!r}")


def list_skies(*, shippable: bool = False, folder: Path = SKY_DIR) -> list[Path]:
    """Sky photos in ``folder``; with ``shippable=True`` only those whose licence allows
    training weights that are shipped (see :data:`EVAL_ONLY_SKY_PREFIXES`)."""
    if not folder.is_dir():
        return []
    skies = sorted(
        p
        for p in folder.glob("*.jpg")
        if p.is_file() and not p.name.startswith(NOT_SKY_ONLY_PREFIXES)
    )
    return _shippable_only(skies, shippable)


def split_items(items: list, *, held_out: bool, seed: int = SPLIT_SEED) -> list:
    """The training or held-out part of a list, chosen by ``seed`` independently of order.

    At least one item goes to each side when the list has two or more.
    """
    ordered = sorted(items, key=str)
    if len(ordered) < 2:
        return [] if held_out else ordered
    rng = np.random.default_rng(seed)
    count = min(len(ordered) - 1, max(1, round(len(ordered) * HELD_OUT_FRACTION)))
    chosen = set(rng.choice(len(ordered), size=count, replace=False).tolist())
    return [x for i, x in enumerate(ordered) if (i in chosen) == held_out]


def held_out_skies(*, shippable: bool = False) -> list[Path]:
    """The sky photos reserved for evaluation (the split is made over all skies, then
    filtered, so training and held-out skies never overlap)."""
    return _shippable_only(split_items(list_skies(), held_out=True), shippable)


def train_skies(*, shippable: bool = True) -> list[Path]:
    """The sky photos used for training (shippable licences only by default)."""
    return _shippable_only(split_items(list_skies(), held_out=False), shippable)


def _shippable_only(skies: list[Path], shippable: bool) -> list[Path]:
    if not shippable:
        return skies
    return [p for p in skies if not p.name.startswith(EVAL_ONLY_SKY_PREFIXES)]


def _pick_window(
    panorama: Panorama, aspect: float, split: str, rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """``(x0, y0, width, height)`` of a crop holding ground and sky; ``y0`` may be negative
    (rows above the strip are sky)."""
    ranges = _column_ranges(panorama, split)
    widths = np.array([b - a for a, b in ranges], dtype=np.float64)
    lo, hi = ranges[int(rng.choice(len(ranges), p=widths / widths.sum()))]
    usable_h = panorama.bottom
    for _ in range(50):
        # A wrapping panorama may be extended upward with sky; a fisheye crop may not.
        reach = 1.4 if panorama.wraps else 1.0
        max_h = min(usable_h * reach, (hi - lo) / aspect)
        min_h = min(max_h, max(96.0, usable_h * 0.3))
        crop_h = float(rng.uniform(min_h, max_h))
        crop_w = min(hi - lo, max(1, round(crop_h * aspect)))
        crop_h = max(1, round(crop_w / aspect))
        x0 = int(rng.integers(lo, hi - crop_w + 1))
        columns = panorama.horizon[x0 : x0 + crop_w]
        ground = columns[columns < panorama.bottom]
        if ground.size < 0.5 * crop_w:
            continue
        horizon = float(np.median(ground))
        sky_share = float(rng.uniform(0.15, 0.7))
        y0 = round(horizon - sky_share * crop_h)
        y0 = min(y0, panorama.bottom - crop_h)
        y0 = max(y0, round(horizon - 0.9 * crop_h))
        if not panorama.wraps:
            y0 = min(max(y0, 0), panorama.bottom - crop_h)
        alpha = _crop_alpha(panorama, x0, y0, crop_w, crop_h)
        if 0.05 < float(np.mean(alpha < 0.5)) < 0.95:
            return x0, y0, crop_w, crop_h
    raise ValueError(f"{panorama.name}: no crop with both ground and sky found")


def _crop_alpha(panorama: Panorama, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    top = max(0, y0)
    alpha = panorama.rgba[top : y0 + height, x0 : x0 + width, 3]
    return np.pad(alpha, ((top - y0, 0), (0, 0)))


def _crop_rgba(panorama: Panorama, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    top = max(0, y0)
    region = panorama.rgba[top : y0 + height, x0 : x0 + width]
    # Rows above the strip are transparent: pure sky.
    return np.pad(region, ((top - y0, 0), (0, 0), (0, 0)))


def _resize(array: np.ndarray, width: int, height: int) -> np.ndarray:
    shrinking = width < array.shape[1] and height < array.shape[0]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(array, (width, height), interpolation=interpolation)


def _sky_background(
    sky: np.ndarray, width: int, height: int, rng: np.random.Generator
) -> np.ndarray:
    """A random crop of ``sky`` (float RGB) covering ``width x height`` at its aspect."""
    sky = sky[: max(8, round(sky.shape[0] * SKY_TOP_SHARE))]
    sky_h, sky_w = sky.shape[:2]
    aspect = width / height
    scale = float(rng.uniform(0.6, 1.0))
    crop_w = min(sky_w, round(sky_h * aspect))
    crop_h = min(sky_h, round(crop_w / aspect))
    crop_w, crop_h = max(8, round(crop_w * scale)), max(8, round(crop_h * scale))
    x0 = int(rng.integers(0, sky_w - crop_w + 1))
    y0 = int(rng.integers(0, max(1, (sky_h - crop_h) // 2) + 1))
    crop = sky[y0 : y0 + crop_h, x0 : x0 + crop_w]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return _resize(np.ascontiguousarray(crop), width, height)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 709 luminance of float RGB (last axis)."""
    return rgb @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def make_composite(
    landscape: Path,
    sky: Path | np.ndarray,
    *,
    size: tuple[int, int] = (640, 480),
    rng: np.random.Generator,
    split: str = "any",
    harmonize: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Lay a crop of a Stellarium landscape over a sky photo.

    Parameters
    ----------
    landscape : Path
        A folder from :func:`list_landscapes`.
    sky : Path or ndarray
        A sky photo (path, or an image array as :func:`skycore.read_image` returns).
    size : (int, int), optional
        Output ``(width, height)``. Crops are taken at the panorama's own resolution and
        resized (upscaled for multi-megapixel sizes: the panoramas are 256-1024 px tall).
    rng : numpy.random.Generator
        Source of every random choice (crop, sky crop, flips).
    split : {'any', 'train', 'held_out'}, optional
        Which columns of the panorama the crop may use (see :func:`held_out_columns`).
    harmonize : bool, optional
        Scale the ground's brightness part of the way toward the sky's, so a night sky does
        not sit over a sunlit field.

    Returns
    -------
    image : ndarray
        ``HxWx3`` uint8 RGB.
    mask : ndarray
        ``HxW`` float32 in ``[0, 1]``, 1 = sky: one minus the landscape's alpha.

    Raises
    ------
    ValueError
        For an unusable landscape, a bad ``split`` or a size below 8 pixels.
    """
    width, height = (int(v) for v in size)
    if width < 8 or height < 8:
        raise ValueError(f"size must be at least 8x8 pixels, got {width}x{height}")
    panorama = load_panorama(Path(landscape))
    x0, y0, crop_w, crop_h = _pick_window(panorama, width / height, split, rng)
    crop = _crop_rgba(panorama, x0, y0, crop_w, crop_h)
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    crop = _resize(np.ascontiguousarray(crop), width, height).clip(0.0, 1.0)
    fg, alpha = crop[..., :3], crop[..., 3:]
    # Bicubic ringing can leave premultiplied colour above its alpha; no colour may show
    # where the label says pure sky.
    fg = np.minimum(fg, alpha)
    sky_rgb = read_image(sky) if isinstance(sky, (str, Path)) else sky
    background = _sky_background(as_float_rgb(sky_rgb), width, height, rng)
    if harmonize:
        covered = alpha[..., 0] > 0.5
        if covered.any() and (~covered).any():
            fg_mean = float(luminance(fg[covered] / alpha[covered]).mean())
            sky_mean = float(luminance(background[~covered]).mean())
            gain = np.clip((sky_mean / max(fg_mean, 1e-3)) ** 0.6, 0.08, 1.3)
            fg = fg * np.float32(gain)
    image = (fg + background * (1.0 - alpha)).clip(0.0, 1.0)
    image8 = (image * 255.0 + 0.5).astype(np.uint8)
    mask = (1.0 - alpha[..., 0]).astype(np.float32)
    return image8, mask
