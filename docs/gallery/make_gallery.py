"""Rebuild the README gallery: before / mask / after for a few photos, made by the CLI.

Run from the repository root::

    python docs/gallery/make_gallery.py

Only files in the repository are used: the photos in ``samples/``, the skies in ``skies/``
(licences in the SOURCES.md files there) and the default model (no ``--model``). For each
photo, ``skycore replace`` runs with default options and ``--save-mask``; the photo, the mask
and the result are then scaled to 384 px wide as JPEGs here. A second set shows a plain alpha
blend (``--no-defringe``) next to the default defringed blend, enlarged 3x at bare branches
against the sky, with harmonisation off so only the edges differ.
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
PHOTOS = ROOT / "samples"
GALLERY = ROOT / "docs" / "gallery"
SKIES = ROOT / "skies"

#: (photo in samples/, sky in skies/).
PAIRS = (
    ("aitzgorri", "sunset_clouds"),
    ("picosdeeuropa", "storm_clouds"),
    ("dragonfly", "dusk_gradient"),
    ("bridge", "day_blue_cirrus"),
)
#: Defringe comparison: photo, sky and the crop (x0, y0, x1, y1) of bare branches.
EDGE_CROP = ("aitzgorri", "sunset_clouds", (1440, 150, 1600, 310))
WIDTH = 384
ZOOM = 3


def skycore_replace(photo: Path, sky: Path, output: Path, *options: str) -> None:
    command = [
        sys.executable,
        "-m",
        "skycore",
        "replace",
        str(photo),
        "--sky",
        str(sky),
        "-o",
        str(output),
        *options,
    ]
    subprocess.run(command, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def save_small(image: np.ndarray, path: Path) -> None:
    scale = WIDTH / image.shape[1]
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), small, [cv2.IMWRITE_JPEG_QUALITY, 85])


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for name, sky in PAIRS:
            photo = PHOTOS / f"{name}.jpg"
            result = work / f"{name}.png"
            skycore_replace(photo, SKIES / f"{sky}.jpg", result, "--save-mask")
            save_small(cv2.imread(str(photo)), GALLERY / f"{name}_before.jpg")
            save_small(cv2.imread(str(work / f"{name}_mask.png")), GALLERY / f"{name}_mask.jpg")
            save_small(cv2.imread(str(result)), GALLERY / f"{name}_after.jpg")
        name, sky, (x0, y0, x1, y1) = EDGE_CROP
        photo = PHOTOS / f"{name}.jpg"
        crops = {"photo": cv2.imread(str(photo))}
        for label, options in (("plain", ["--no-defringe"]), ("defringe", [])):
            output = work / f"{label}.png"
            skycore_replace(
                photo, SKIES / f"{sky}.jpg", output, "--amount", "0", "--lighting", "0", *options
            )
            crops[label] = cv2.imread(str(output))
        for label, image in crops.items():
            crop = image[y0:y1, x0:x1]
            zoomed = cv2.resize(crop, None, fx=ZOOM, fy=ZOOM, interpolation=cv2.INTER_NEAREST)
            cv2.imwrite(str(GALLERY / f"edge_{label}.jpg"), zoomed, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return 0


if __name__ == "__main__":
    sys.exit(main())
