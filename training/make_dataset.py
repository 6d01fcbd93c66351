"""Assemble the training set of the sky model and cache it as arrays.

Run from the repository root::

    python -m training.make_dataset            # writes training/data/cache/dataset.npz

It needs ``stellarium-data``, ``torcs-data`` and the packages named in
:mod:`training.sources` installed, and ``../shared`` beside the repository. Every random
choice flows from ``--seed``. Only the training parts are cached; the held-out parts are read
again by ``benchmarks/eval_model.py``.

The model sees photos with their aspect ratio kept (:func:`skycore.inference.model_input_size`),
so nothing here is squashed. The cache holds:

* ``composite_images``/``composite_masks``: exact-mask composites (:mod:`training.composites`),
  generated square, some with trees standing in front (:mod:`training.cutouts`);
* ``photo_images``/``photo_masks``/``photo_shapes``/``photo_has_sky``: real photos with refined
  pseudo-labels, and no-sky photos with empty masks, fitted into a square canvas with their
  aspect kept (``photo_shapes`` holds each one's height and width; the rest is padding);
* ``sky_images``: sky-only pictures for the sky-swap augmentation;
* ``val_*``: a small held-out set that the training logs IoU on: held-out composites over
  held-out skies (square) and held-out photos, with and without sky, fitted like the photos
  (``val_shapes``). Final figures come from ``benchmarks/eval_model.py`` at full size.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from skycore import as_float_rgb, read_image

from .augment import gradient_sky, overcast_look
from .composites import (
    held_out_skies,
    list_landscapes,
    make_composite,
    split_items,
    train_skies,
)
from .cutouts import add_cutouts, list_cutouts, load_cutout
from .sources import label_for, list_photos, read_photo, sky_wallpapers, split_photos

CACHE_DIR = Path(__file__).resolve().parent / "data" / "cache"
#: Bumped whenever the recipe makes a different cache from the same photos, so that
#: ``python -m training`` rebuilds a cache an older recipe wrote.
DATASET_VERSION = 7
#: Share of training composites laid over a synthetic pale sky (half a real sky made
#: overcast, half a plain gradient): overcast and haze are rare among the sky photos.
SYNTHETIC_SKY_SHARE = 0.3
#: Share of training composites with trees (or a tower, or a person) of ``torcs-data``
#: standing in front or hanging from above (:mod:`training.cutouts`): sky between leaves and
#: branches.
CUTOUT_SHARE = 0.4


def fit(image: np.ndarray, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Resize so the long side is ``size`` (aspect kept) and pad to ``size x size``.

    Returns the padded array and the ``(height, width)`` of the picture inside it.
    """
    scale = size / max(image.shape[:2])
    height = max(1, round(image.shape[0] * scale))
    width = max(1, round(image.shape[1] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(image, (width, height), interpolation=interpolation)
    canvas = np.zeros((size, size) + image.shape[2:], image.dtype)
    canvas[:height, :width] = small
    return canvas, (height, width)


def squash(image: np.ndarray, size: int) -> np.ndarray:
    """Resize to ``size x size`` ignoring the aspect ratio (area filter when shrinking)."""
    shrinking = image.shape[0] > size and image.shape[1] > size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)


def to_u8(mask: np.ndarray) -> np.ndarray:
    """A float mask in ``[0, 1]`` as uint8 0..255."""
    return (np.clip(mask, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def sky_band(rgb: np.ndarray, mask: np.ndarray, *, min_share: float = 0.25) -> np.ndarray | None:
    """The top rows of a photo that are sky across the whole width, if tall enough.

    These are the "sky crops cut from photos" used as extra composite backgrounds.
    """
    full_rows = np.mean(mask > 0.98, axis=1) >= 0.995
    height = int(np.argmin(full_rows)) if not full_rows.all() else mask.shape[0]
    if height < max(min_share * mask.shape[0], 160):
        return None
    return rgb[: int(height * 0.9)]


#: ``val_kinds`` values.
KIND_COMPOSITE, KIND_PHOTO, KIND_NO_SKY = 0, 1, 2


def build_photos(size: int, *, held_out: bool = False) -> tuple:
    """Photos of one split with their labels, fitted into ``size`` squares; also sky bands
    cut from them.

    Returns images, masks, shapes, has-sky flags, file names and sky bands.
    """
    photos = split_photos(list_photos(), held_out=held_out)
    images, masks, shapes, has_sky, names, bands = [], [], [], [], [], []
    for photo in tqdm(photos, desc="photos (pseudo-labels)", unit="photo"):
        rgb = read_photo(photo)
        label = label_for(photo, rgb)
        image, shape = fit(rgb, size)
        images.append(image)
        masks.append(to_u8(fit(label, size)[0]))
        shapes.append(shape)
        has_sky.append(photo.has_sky)
        names.append(str(photo.path))
        band = sky_band(rgb, label) if photo.has_sky else None
        if band is not None:
            bands.append(band)
    return (
        np.stack(images),
        np.stack(masks),
        np.array(shapes, np.int32),
        np.array(has_sky),
        names,
        bands,
    )


def build_composites(
    count: int,
    size: int,
    skies: list[np.ndarray],
    rng: np.random.Generator,
    *,
    split: str = "train",
    synthetic_share: float = 0.0,
    cutouts: list[np.ndarray] | None = None,
    cutout_share: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` square composites of one split over the given skies.

    ``synthetic_share`` of them are laid over a synthetic pale sky instead
    (:func:`training.augment.overcast_look` of one of the skies or a
    :func:`training.augment.gradient_sky`), and ``cutout_share`` of them get ``cutouts``
    standing in front (:func:`training.cutouts.add_cutouts`).
    """
    landscapes = list_landscapes()
    if not landscapes:
        raise SystemExit("no Stellarium landscapes found: apt-get install stellarium-data")
    images = np.empty((count, size, size, 3), np.uint8)
    masks = np.empty((count, size, size), np.uint8)
    for i in tqdm(range(count), desc="composites", unit="img"):
        landscape = landscapes[i % len(landscapes)]
        sky = skies[int(rng.integers(len(skies)))]
        draw = rng.random()
        if draw < synthetic_share / 2:
            sky = gradient_sky(480, 640, rng)
        elif draw < synthetic_share:
            sky = overcast_look(sky, rng)
        image, mask = make_composite(landscape, sky, size=(size, size), rng=rng, split=split)
        if cutouts and rng.random() < cutout_share:
            image, mask = add_cutouts(image, mask, cutouts, rng)
        images[i] = image
        masks[i] = to_u8(mask)
    return images, masks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=CACHE_DIR / "dataset.npz")
    parser.add_argument("--composites", type=int, default=2400)
    parser.add_argument("--val-composites", type=int, default=96)
    parser.add_argument("--composite-size", type=int, default=320)
    parser.add_argument("--photo-size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    start = time.time()

    photo_images, photo_masks, photo_shapes, photo_has_sky, photo_names, bands = build_photos(
        args.photo_size
    )
    sky_paths = train_skies() + sky_wallpapers()
    skies = [as_float_rgb(read_image(p)) for p in sky_paths]
    skies += [as_float_rgb(b) for b in bands]
    cutout_paths = list_cutouts()
    if not cutout_paths:
        raise SystemExit("no TORCS billboard textures found: apt-get install torcs-data")
    cutouts = [load_cutout(p) for p in split_items(cutout_paths, held_out=False)]
    composite_images, composite_masks = build_composites(
        args.composites,
        args.composite_size,
        skies,
        rng,
        synthetic_share=SYNTHETIC_SKY_SHARE,
        cutouts=cutouts,
        cutout_share=CUTOUT_SHARE,
    )
    sky_images = np.stack(
        [
            (squash(s[: max(8, round(s.shape[0] * 0.8))], args.composite_size) * 255 + 0.5).astype(
                np.uint8
            )
            for s in skies
        ]
    )

    val_skies = [as_float_rgb(read_image(p)) for p in held_out_skies()]
    val_comp_images, val_comp_masks = build_composites(
        args.val_composites, args.composite_size, val_skies, rng, split="held_out"
    )
    val_photo_images, val_photo_masks, val_photo_shapes, val_has_sky, _, _ = build_photos(
        args.composite_size, held_out=True
    )
    val_shapes = np.concatenate(
        [np.full((len(val_comp_images), 2), args.composite_size, np.int32), val_photo_shapes]
    )
    val_kinds = np.concatenate(
        [
            np.full(len(val_comp_images), KIND_COMPOSITE, np.int8),
            np.where(val_has_sky, KIND_PHOTO, KIND_NO_SKY).astype(np.int8),
        ]
    )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        args.out,
        composite_images=composite_images,
        composite_masks=composite_masks,
        photo_images=photo_images,
        photo_masks=photo_masks,
        photo_shapes=photo_shapes,
        photo_has_sky=photo_has_sky,
        sky_images=sky_images,
        val_images=np.concatenate([val_comp_images, val_photo_images]),
        val_masks=np.concatenate([val_comp_masks, val_photo_masks]),
        val_shapes=val_shapes,
        val_kinds=val_kinds,
    )
    summary = {
        "version": DATASET_VERSION,
        "seed": args.seed,
        "composites": int(args.composites),
        "photos": photo_names,
        "photos_with_sky": int(photo_has_sky.sum()),
        "skies": [str(p) for p in sky_paths] + [f"sky band {i}" for i in range(len(bands))],
        "seconds": round(time.time() - start, 1),
    }
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(
        f"wrote {args.out}: {args.composites} composites, {len(photo_names)} photos "
        f"({int(photo_has_sky.sum())} with sky), {len(skies)} skies, "
        f"{summary['seconds']} s"
    )


if __name__ == "__main__":
    main()
