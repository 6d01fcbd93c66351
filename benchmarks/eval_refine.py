"""Mask quality of the refinement on exact-mask composites (Stellarium cut-outs over real skies).

Prints IoU, boundary F-score and MAE of: the model's probability upsampled bilinearly, the
cpp-compatible refinement, the default refinement and the default refinement with density
estimation, at about 1, 4 and 12 MP.

    python benchmarks/eval_refine.py [--model PATH] [--per-size N] [--cache DIR]

Needs the Debian package stellarium-data and ../shared beside the repository.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from skycore import predict_probability, refine  # noqa: E402
from skycore.metrics import mask_metrics  # noqa: E402
from training.composites import held_out_skies, list_landscapes, make_composite  # noqa: E402

SHARED = REPO.parent / "shared"
SIZES = {"1 MP": (1152, 864), "4 MP": (2304, 1728), "12 MP": (4000, 3000)}


def _figure_row(image: np.ndarray, masks: list[np.ndarray], width: int = 320) -> np.ndarray:
    height = round(image.shape[0] * width / image.shape[1])
    tiles = [cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)]
    for mask in masks:
        gray = np.round(np.clip(mask, 0, 1) * 255).astype(np.uint8)
        gray = cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA)
        tiles.append(np.dstack([gray] * 3))
    return np.hstack(tiles)


def composites(per_size: int, cache: Path | None):
    """Yield ``(size label, name, image, truth)``; deterministic, cached as .npz if asked."""
    landscapes = list_landscapes()
    skies = held_out_skies()
    if not landscapes or not skies:
        sys.exit("needs stellarium-data (apt-get install stellarium-data) and ../shared/data/skies")
    for label, size in SIZES.items():
        for index in range(per_size):
            name = f"{label.replace(' ', '')}_{index}"
            path = cache / f"{name}.npz" if cache else None
            if path is not None and path.exists():
                data = np.load(path)
                yield label, name, data["image"], data["truth"]
                continue
            rng = np.random.default_rng(1000 + index)
            image, truth = make_composite(
                landscapes[index % len(landscapes)],
                skies[index % len(skies)],
                size=size,
                rng=rng,
                split="held_out",
            )
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez(path, image=image, truth=truth)
            yield label, name, image, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(SHARED / "models" / "skyseg-u2netp.onnx"))
    parser.add_argument("--per-size", type=int, default=7)
    parser.add_argument("--cache", type=Path, help="folder to keep generated composites in")
    parser.add_argument(
        "--figure", type=Path, help="also save photo | truth | bilinear | default | density rows"
    )
    args = parser.parse_args()

    methods = {
        "bilinear": None,
        "cpp-compatible": {"cpp_compatible": True},
        "default": {},
        "default+density": {"colour_density": True},
    }
    results: dict[tuple[str, str], list] = {}
    figure_rows = []
    for label, _name, image, truth in composites(args.per_size, args.cache):
        probability = predict_probability(image, args.model)
        height, width = truth.shape
        masks = {}
        for method, options in methods.items():
            if options is None:
                mask = cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR)
            else:
                mask = refine(image, probability, **options)
            masks[method] = mask
            results.setdefault((label, method), []).append(mask_metrics(mask, truth))
        if args.figure and label == "1 MP":
            panels = [truth, masks["bilinear"], masks["default"], masks["default+density"]]
            figure_rows.append(_figure_row(image, panels))

    print(f"composites per size: {args.per_size}")
    print(f"{'size':6} {'method':16} {'IoU':>7} {'BF':>7} {'MAE':>7}")
    for (label, method), rows in results.items():
        iou, f_score, mae = np.mean(rows, axis=0)
        print(f"{label:6} {method:16} {iou:7.4f} {f_score:7.4f} {mae:7.4f}")
    if figure_rows:
        cv2.imwrite(str(args.figure), np.vstack(figure_rows)[..., ::-1])


if __name__ == "__main__":
    main()
