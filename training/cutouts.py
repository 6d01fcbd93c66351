"""Exact-mask foregrounds in front of the sky: trees, people and girders cut out by hand.

The Debian package ``torcs-data`` (GPL-2+) ships the billboard textures of TORCS's race
tracks: photos of trees (leafy, bare and conifers), spectators, towers and girders, each cut
out with an alpha channel. Laid over a sky composite they add what the Stellarium panoramas
lack: sky seen between leaves and branches, thin structures and people against the sky, with
labels as exact as the alpha::

    rng = np.random.default_rng(0)
    image, mask = make_composite(list_landscapes()[0], sky, size=(320, 320), rng=rng)
    cutouts = [load_cutout(p) for p in split_items(list_cutouts(), held_out=False)]
    image, mask = add_cutouts(image, mask, cutouts, rng)

``image`` stays ``HxWx3`` uint8 RGB and ``mask`` ``HxW`` float32, 1 = sky.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .composites import luminance

#: Where ``torcs-data`` installs its race tracks.
TORCS_TRACKS = Path("/usr/share/games/torcs/tracks")
#: Textures whose name holds this are billboards (trees, spectators, girders).
_NAME_PART = "tree"
#: Left out: sheets of spectators stacked in rows (they would float in the sky), a building
#: facade, and a track map whose name holds "tree" by chance ("street").
_EXCLUDED_NAMES = (
    "ppla_tree_n.png",
    "pplb_tree_n.png",
    "pplc_tree_n.png",
    "PEtree_n.png",
    "PFtree_n.png",
    "treeC3_n.png",
    "treeC4_n.png",
    "BLDG05_tree.png",
    "street-1.png",
)
_EXCLUDED_PREFIXES = ("treeUGLIES",)
# Fewest pixels on the short side, and the transparent share a billboard has.
_MIN_SIDE = 128
_TRANSPARENT_SHARE = (0.1, 0.95)
# Strips of forest made to tile end in opaque straight sides; alone, those would stand in the
# sky as straight vertical edges. Most opaque share a side column may have.
_MAX_OPAQUE_SIDE = 0.3


def list_cutouts(folder: Path = TORCS_TRACKS) -> list[Path]:
    """Billboard textures with a cut-out background, one path per distinct image.

    Parameters
    ----------
    folder : Path, optional
        Folder searched recursively for ``*tree*.png`` RGBA textures.

    Returns
    -------
    list of Path
        Sorted by path (empty if ``torcs-data`` is not installed). Tracks share textures,
        so identical files are kept once: the first path in sorted order. Tiling strips,
        whose sides are opaque, are left out.
    """
    if not folder.is_dir():
        return []
    seen: set[str] = set()
    cutouts = []
    for path in sorted(folder.rglob("*.png")):
        name = path.name
        if _NAME_PART not in name.lower() or name in _EXCLUDED_NAMES:
            continue
        if name.startswith(_EXCLUDED_PREFIXES):
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        with Image.open(path) as im:
            if im.mode != "RGBA" or min(im.size) < _MIN_SIDE:
                continue
            alpha = np.asarray(im.getchannel("A"))
        low, high = _TRANSPARENT_SHARE
        opaque_side = max(float(np.mean(alpha[:, 0] >= 128)), float(np.mean(alpha[:, -1] >= 128)))
        if low < float(np.mean(alpha < 128)) < high and opaque_side <= _MAX_OPAQUE_SIDE:
            cutouts.append(path)
    return cutouts


def load_cutout(path: Path) -> np.ndarray:
    """A cutout as premultiplied float32 RGBA, cropped to its opaque pixels."""
    with Image.open(path) as im:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
    rgba[..., :3] *= rgba[..., 3:]
    rows, cols = np.nonzero(rgba[..., 3] > 0.02)
    return np.ascontiguousarray(rgba[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1])


def add_cutouts(
    image: np.ndarray,
    mask: np.ndarray,
    cutouts: list[np.ndarray],
    rng: np.random.Generator,
    *,
    count: tuple[int, int] = (1, 2),
    hanging: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """Stand a few cutouts in front of a composite, or hang them from above, and take them out
    of its sky label.

    Parameters
    ----------
    image : ndarray
        ``HxWx3`` uint8 RGB composite.
    mask : ndarray
        ``HxW`` float32 sky label of ``image`` (1 = sky).
    cutouts : list of ndarray
        Premultiplied RGBA cutouts from :func:`load_cutout`.
    rng : numpy.random.Generator
        Source of every random choice: how many (``count``, inclusive), which, their size
        (0.3 to 1.0 of the image height standing, 0.6 to 1.6 hanging), place, flip and
        brightness.
    count : (int, int), optional
        Fewest and most cutouts laid.
    hanging : float, optional
        Share of cutouts that hang from above the frame instead, as branches overhang a photo
        taken under a tree: turned upside down, trunk out of the frame, the crown reaching
        down to 15-60 % of the height.

    Returns
    -------
    image, mask : ndarray
        The composite with the cutouts, and its label with their alpha removed from the sky.
    """
    height, width = mask.shape
    rgb = image.astype(np.float32) / 255.0
    sky = mask.astype(np.float32, copy=True)
    sky_pixels = sky > 0.5
    sky_level = float(luminance(rgb[sky_pixels]).mean()) if sky_pixels.any() else 0.5
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        cutout = cutouts[int(rng.integers(len(cutouts)))]
        if rng.random() < 0.5:
            cutout = cutout[:, ::-1]
        hangs = rng.random() < hanging
        if hangs:
            cutout = cutout[::-1]
        size = rng.uniform(0.6, 1.6) if hangs else rng.uniform(0.3, 1.0)
        scale = float(size) * height / cutout.shape[0]
        cut_h = max(2, round(cutout.shape[0] * scale))
        cut_w = max(2, round(cutout.shape[1] * scale))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        layer = cv2.resize(
            np.ascontiguousarray(cutout), (cut_w, cut_h), interpolation=interpolation
        )
        layer = layer.clip(0.0, 1.0)
        alpha = layer[..., 3:]
        # Light it like the scene: part of the way toward the sky's brightness.
        opaque = alpha[..., 0] > 0.5
        if opaque.any():
            own = float(luminance(layer[..., :3][opaque] / alpha[opaque]).mean())
            layer[..., :3] *= np.float32(np.clip((sky_level / max(own, 1e-3)) ** 0.6, 0.1, 1.3))
        if hangs:
            bottom = int(rng.integers(round(height * 0.15), round(height * 0.6) + 1))
        else:
            # Stand it with its foot between the middle and below the bottom edge.
            bottom = int(rng.integers(height // 2, round(height * 1.25) + 1))
        left = int(rng.integers(-cut_w // 2, width - cut_w // 2 + 1))
        top = bottom - cut_h
        y0, y1 = max(0, top), min(height, bottom)
        x0, x1 = max(0, left), min(width, left + cut_w)
        if y0 >= y1 or x0 >= x1:
            continue
        part = layer[y0 - top : y1 - top, x0 - left : x1 - left]
        cover = part[..., 3:]
        rgb[y0:y1, x0:x1] = part[..., :3] + rgb[y0:y1, x0:x1] * (1.0 - cover)
        sky[y0:y1, x0:x1] *= 1.0 - cover[..., 0]
    return (rgb.clip(0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), sky
