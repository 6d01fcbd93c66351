"""Rebuild the README's Enhance Sky gallery: before / after, and 100 % crops at the horizon.

Run from the repository root, with ``../shared`` beside it::

    python docs/gallery/make_enhance_gallery.py

The photos are night and dusk phone photos from google/sky-optimization (Apache-2.0, the
paper's own examples; ``../shared/data/photos/SOURCES.md``). ``skycore enhance`` runs on them
with its defaults and the default model; the photo and the result are scaled to 400 px wide
(``enhance_<name>_before.jpg`` / ``_after.jpg``), and a 100 % crop where the sky meets the scene
is cut from both, unscaled (``enhance_<name>_crop.jpg``: before left, after right).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ROOT.parent / "shared" / "data" / "photos"
GALLERY = ROOT / "docs" / "gallery"

#: (photo stem in ../shared/data/photos, gallery name, 100 % crop (x0, y0, x1, y1) or None).
PHOTOS_SHOWN = (
    ("skyopt_200714_orig", "road", (700, 700, 1100, 1000)),
    ("skyopt_195520_orig_crop", "clouds", (700, 560, 1100, 860)),
    ("skyopt_193508_orig", "city", (300, 1050, 700, 1350)),
    ("skyopt_224544_orig", "marina", None),
)
WIDTH = 400


def save_small(image: np.ndarray, path: Path) -> None:
    height = round(image.shape[0] * WIDTH / image.shape[1])
    small = cv2.resize(image, (WIDTH, height), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), small, [cv2.IMWRITE_JPEG_QUALITY, 88])


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        photos = [PHOTOS / f"{stem}.jpg" for stem, _, _ in PHOTOS_SHOWN]
        subprocess.run(
            [sys.executable, "-m", "skycore", "enhance", *map(str, photos), "-o", str(out),
             "--format", "png"],
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        for (stem, name, crop), photo in zip(PHOTOS_SHOWN, photos, strict=True):
            before = cv2.imread(str(photo))
            after = cv2.imread(str(out / f"{stem}.png"))
            save_small(before, GALLERY / f"enhance_{name}_before.jpg")
            save_small(after, GALLERY / f"enhance_{name}_after.jpg")
            if crop:
                x0, y0, x1, y1 = crop
                gap = np.full((y1 - y0, 8, 3), 255, np.uint8)
                pair = np.hstack([before[y0:y1, x0:x1], gap, after[y0:y1, x0:x1]])
                cv2.imwrite(
                    str(GALLERY / f"enhance_{name}_crop.jpg"), pair, [cv2.IMWRITE_JPEG_QUALITY, 92]
                )


if __name__ == "__main__":
    main()
