"""The model card's comparison picture: hard cases, each model and teacher side by side.

Run from the repository root (needs ``../shared``, the ``[train]`` extra for the DeepLab teacher
and the Debian packages of :mod:`training.sources`)::

    python benchmarks/model_picture.py -o models/comparison.jpg

One row per case (overcast street, white cloud cores over snow, hazy ridge, an interior with
windows, glass facades, night skies, a deep red sunset, bare branches against a pale sky, a
flat grey picture): the photo, then the refined mask of each model in ``models/`` that is
present and of the teachers (:mod:`training.teachers`), sky tinted magenta. Each case says
whether the photo was held out of training.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import skycore  # noqa: E402
from training import teachers  # noqa: E402
from training.sources import PHOTO_DIR, WEATHER_DIR, list_photos, split_photos  # noqa: E402

_BUDGIE = Path("/usr/share/backgrounds/budgie")
#: (what the case shows, photo); ``None`` is a flat grey picture.
CASES: tuple[tuple[str, Path | None], ...] = (
    ("overcast road", WEATHER_DIR / "cloudy_test_1.jpg"),
    ("white clouds, snow fields", REPO / "samples" / "picosdeeuropa.jpg"),
    ("hazy ridge", REPO / "samples" / "aitzgorri.jpg"),
    ("interior, windows", PHOTO_DIR / "wikimedia_002.jpg"),
    ("glass tower, round opening", _BUDGIE / "piazza-gae-aulenti.jpg"),
    ("glass facades at dusk", PHOTO_DIR / "wikimedia_011.jpg"),
    ("night lake", PHOTO_DIR / "skyopt_213703_orig.jpg"),
    ("night city", PHOTO_DIR / "skyopt_193508_orig.jpg"),
    ("red sunset", WEATHER_DIR / "sunrise_test_61.jpg"),
    ("bare branches, pale sky", PHOTO_DIR / "wikimedia_024.jpg"),
    ("bridge cables, pale sky", REPO / "samples" / "bridge.jpg"),
    ("flat grey picture", None),
)
#: The wallpapers the samples were scaled from (samples/SOURCES.md), to tell whether they
#: were held out of training.
SAMPLE_SOURCES = {
    "aitzgorri.jpg": "aitzgorri_by_Aitzol_Berasategi.jpg",
    "picosdeeuropa.jpg": "picosdeeuropa_by_Aitzol_Berasategi.jpg",
    "bridge.jpg": "Bridge_by_Sander_Klootwijk.jpg",
}
TILE_WIDTH = 200
MAGENTA = np.array([255, 0, 255], np.float32)


def held_out_names() -> set[str]:
    return {p.path.name for p in split_photos(list_photos(), held_out=True)}


def overlay(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(np.float32)
    return (rgb * (1 - 0.55 * m) + MAGENTA * 0.55 * m).astype(np.uint8)


def label(tile: np.ndarray, text: str) -> np.ndarray:
    band = np.full((18, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(band, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([band, tile])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=REPO / "models" / "comparison.jpg")
    args = parser.parse_args(argv)
    models = {}
    for manifest in skycore.registry.manifests_in(skycore.registry.PROJECT_MODEL_DIR):
        for spec in skycore.registry.read_manifest(manifest):
            if spec.available:
                models[spec.id + (" (default)" if spec.default else "")] = spec
    methods = {
        name: (lambda rgb, spec=spec: skycore.predict_probability(rgb, model=spec))
        for name, spec in models.items()
    }
    methods["teacher: DeepLab ADE20K"] = teachers.deeplab_probability
    methods["teachers' ensemble"] = teachers.ensemble_probability
    held_out = held_out_names()
    rows = []
    for what, path in CASES:
        if path is None:
            rgb = np.full((240, 320, 3), 128, np.uint8)
            title = what
        else:
            rgb = skycore.read_image(path)
            if rgb.dtype != np.uint8:
                rgb = (skycore.as_float_rgb(rgb) * 255 + 0.5).astype(np.uint8)
            source = SAMPLE_SOURCES.get(path.name, path.name)
            title = f"{what} ({'held out' if source in held_out else 'training'})"
        height = round(rgb.shape[0] * TILE_WIDTH / rgb.shape[1])
        small = cv2.resize(rgb, (TILE_WIDTH, height), interpolation=cv2.INTER_AREA)
        tiles = [label(small, title)]
        for name, probability in methods.items():
            mask = skycore.refine(rgb, probability(rgb))
            mask = cv2.resize(mask, (TILE_WIDTH, height), interpolation=cv2.INTER_AREA)
            tiles.append(label(overlay(small, mask), name))
        gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
        rows.append(np.concatenate([t for tile in tiles for t in (tile, gap)], axis=1))
        rows.append(np.full((6, rows[-1].shape[1], 3), 255, np.uint8))
    picture = np.concatenate(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(
        str(args.out), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80]
    )
    print(f"wrote {args.out}: {len(CASES)} cases x {len(methods)} models and teachers")


if __name__ == "__main__":
    main()
