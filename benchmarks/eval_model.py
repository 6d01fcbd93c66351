"""Figures of a sky model against held-out data and human labels.

Run from the repository root (needs ``../shared``, ``stellarium-data``, ``torcs-data`` and the
packages of :mod:`training.sources`)::

    python benchmarks/eval_model.py                      # the project's default model
    python benchmarks/eval_model.py --model models/skyseg-lite.onnx
    python benchmarks/eval_model.py --sections photos --photos training   # the fit check

Prints, for the model and for the reference model (the seed's u2netp) alongside:

1. IoU against the exact masks of held-out composites (held-out panorama columns, held-out
   skies), from the raw probability (bilinear to full size, > 0.5) and after skycore.refine;
   then the same composites with held-out trees of :mod:`training.cutouts` in front; each
   lists the model's three lowest composites (landscape, sky);
2. IoU against the teachers' refined labels on held-out real photos (the training labels
   were made the same way, :func:`training.teachers.teacher_label`), after skycore.refine;
3. false sky on held-out photos without sky: share of pixels with refined mask > 0.5;
4. human labels (``../shared/data/dev-eval``, :mod:`dev_eval`): IoU, boundary F and false sky
   per subset for every model in ``models/``, raw and refined, and for ``skycore mask`` as
   shipped;
5. onnxruntime inference time at 320x320 with 2 threads, the same through
   skycore.predict_probability (twice the runs where the model is mirror-averaged), and the
   whole photo -> refined mask path on a 12 MP composite.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dev_eval  # noqa: E402

import skycore  # noqa: E402
from skycore.metrics import mask_iou  # noqa: E402
from training.composites import (  # noqa: E402
    held_out_skies,
    list_landscapes,
    make_composite,
    split_items,
)
from training.cutouts import add_cutouts, list_cutouts, load_cutout  # noqa: E402
from training.sources import list_photos, read_photo, split_photos  # noqa: E402
from training.teachers import U2NETP_MODEL, teacher_label  # noqa: E402


def upsample(probability: np.ndarray, height: int, width: int) -> np.ndarray:
    return cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR)


def masks_of(image: np.ndarray, model) -> tuple[np.ndarray, np.ndarray]:
    """Raw probability at full size and the refined mask, for one photo."""
    probability = skycore.predict_probability(image, model=model)
    raw = upsample(probability, *image.shape[:2])
    return raw, skycore.refine(image, probability)


def composites_figures(
    models: dict,
    count: int,
    size: tuple[int, int],
    seed: int,
    *,
    cutouts: list[np.ndarray] | None = None,
) -> None:
    """Mean and lowest IoU on held-out composites, with ``cutouts`` in front of each if given."""
    landscapes = list_landscapes()
    sky_paths = held_out_skies()
    skies = [skycore.read_image(p) for p in sky_paths]
    rng = np.random.default_rng(seed)
    scores = {name: {"raw": [], "refined": []} for name in models}
    labels = []
    for i in range(count):
        landscape, sky_index = landscapes[i % len(landscapes)], i % len(skies)
        labels.append(f"#{i:<3d} {landscape.name} over {sky_paths[sky_index].name}")
        image, truth = make_composite(
            landscape,
            skies[sky_index],
            size=size,
            rng=rng,
            split="held_out",
        )
        if cutouts:
            image, truth = add_cutouts(image, truth, cutouts, rng)
        for name, model in models.items():
            raw, refined = masks_of(image, model)
            scores[name]["raw"].append(mask_iou(raw, truth))
            scores[name]["refined"].append(mask_iou(refined, truth))
    what = f" with {len(cutouts)} held-out trees in front" if cutouts else ""
    print(
        f"\n1{'b' if cutouts else ''}. held-out exact composites: {count} at {size[0]}x{size[1]}, "
        f"{len(landscapes)} landscapes, {len(skies)} held-out skies{what} (mean IoU, median, min)"
    )
    for name, s in scores.items():
        raw, refined = s["raw"], s["refined"]
        print(
            f"   {name:12s} raw {np.mean(raw):.4f} ({np.median(raw):.3f}, {np.min(raw):.3f})   "
            f"refined {np.mean(refined):.4f} ({np.median(refined):.3f}, {np.min(refined):.3f})"
        )
    refined = scores["model"]["refined"]
    for i in np.argsort(refined)[:3]:
        print(f"      lowest for the model: {labels[i]:50s} {refined[i]:.3f}")


def photo_figures(models: dict, figure: Path | None, *, held_out: bool = True) -> None:
    """Figures 2 and 3 on the held-out photos, or on the training photos to see how well the
    model fits what it was trained on."""
    part = "held-out" if held_out else "training"
    photos = split_photos(list_photos(), held_out=held_out)
    with_sky = [p for p in photos if p.has_sky]
    without = [p for p in photos if not p.has_sky]
    ious = []
    rows = []
    for photo in with_sky:
        rgb = read_photo(photo)
        label = teacher_label(rgb)
        _, refined = masks_of(rgb, models["model"])
        ious.append(mask_iou(refined, label))
        rows.append([rgb, label, refined])
    print(
        f"\n2. {part} real photos with sky: {len(with_sky)}; IoU of the model's refined mask "
        "vs the teachers' refined label (the training labels were made the same way)"
    )
    print(
        f"   {'model':12s} {np.mean(ious):.4f} (median {np.median(ious):.3f}, "
        f"min {np.min(ious):.3f})"
    )
    for photo, value in zip(with_sky, ious, strict=True):
        print(f"      {photo.name:40s} {value:.3f}")

    false_sky = {name: [0, 0] for name in models}
    per_photo = []
    for photo in without:
        rgb = read_photo(photo)
        shares = []
        for name, model in models.items():
            _, refined = masks_of(rgb, model)
            false_sky[name][0] += int((refined > 0.5).sum())
            false_sky[name][1] += refined.size
            shares.append(f"{name} {100.0 * float(np.mean(refined > 0.5)):5.1f} %")
        per_photo.append(f"      {photo.name:40s} " + "  ".join(shares))
    print(f"\n3. {part} photos without sky: {len(without)}; false sky (refined mask > 0.5)")
    for name, (sky, total) in false_sky.items():
        print(f"   {name:12s} {100.0 * sky / total:.3f} % of pixels")
    print("\n".join(per_photo))
    if figure is not None:
        write_figure(rows, ["reference", "model"], figure)


def write_figure(rows: list, names: list[str], path: Path, width: int = 220) -> None:
    """Photo | each model's refined mask as a magenta overlay; two held-out photos per line."""
    tiles = []
    for rgb, *masks in rows:
        height = round(rgb.shape[0] * width / rgb.shape[1])
        small = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        cells = [small]
        for mask in masks:
            m = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA)[..., None]
            tint = np.array([255, 0, 255], np.float32)
            cells.append((small * (1 - 0.55 * m) + tint * 0.55 * m).astype(np.uint8))
        gap = np.full((height, 4, 3), 255, np.uint8)
        tiles.append(np.concatenate([c for cell in cells for c in (cell, gap)], axis=1))
    if len(tiles) % 2:
        tiles.append(np.full((1, tiles[0].shape[1], 3), 255, np.uint8))
    lines = []
    for left, right in zip(tiles[::2], tiles[1::2], strict=True):
        tall = max(left.shape[0], right.shape[0]) + 6
        pad = [
            np.pad(t, ((0, tall - t.shape[0]), (0, 0), (0, 0)), constant_values=255)
            for t in (left, right)
        ]
        lines.append(np.concatenate([pad[0], np.full((tall, 16, 3), 255, np.uint8), pad[1]], 1))
    grid = np.concatenate(lines, axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    print(f"\nwrote {path} (columns per photo: photo, {', '.join(names)})")


def median_and_min_ms(call, repeats: int) -> str:
    """Time ``call()`` ``repeats`` times after 5 warm-up calls."""
    for _ in range(5):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return f"median {1000 * np.median(times):.1f} ms, min {1000 * np.min(times):.1f} ms"


def timing_figures(model: skycore.ModelSpec, repeats: int) -> None:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model.path), options, providers=["CPUExecutionProvider"])
    tensor = np.random.default_rng(0).standard_normal((1, 3, 320, 320)).astype(np.float32)
    name = session.get_inputs()[0].name
    figures = median_and_min_ms(lambda: session.run(None, {name: tensor}), repeats)
    print(f"\n5. onnxruntime {ort.__version__}, 2 threads, 320x320: {figures} over {repeats} runs")
    photo = np.random.default_rng(0).integers(0, 256, (320, 320, 3), np.uint8)
    figures = median_and_min_ms(lambda: skycore.predict_probability(photo, model=model), repeats)
    runs = "two runs, mirror-averaged" if model.mirror_average else "one run"
    print(f"   skycore.predict_probability on a 320x320 photo ({runs}, all cores): {figures}")
    landscapes = list_landscapes()
    skies = held_out_skies()
    image, _ = make_composite(
        landscapes[0], skies[0], size=(4000, 3000), rng=np.random.default_rng(1), split="held_out"
    )
    start = time.perf_counter()
    skycore.sky_mask(image, model=model)
    print(f"   12 MP photo -> refined mask (skycore.sky_mask): {time.perf_counter() - start:.2f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the default model")
    parser.add_argument("--reference", type=Path, default=U2NETP_MODEL)
    parser.add_argument("--composites", type=int, default=42)
    parser.add_argument("--composite-size", default="1024x768")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument(
        "--input-size",
        type=int,
        default=None,
        help="run the model at about this many pixels squared instead of its manifest's size",
    )
    parser.add_argument(
        "--mirror-average",
        choices=("manifest", "on", "off"),
        default="manifest",
        help="average the model's output over each photo and its mirror (default: as its "
        "manifest says)",
    )
    parser.add_argument(
        "--photos",
        choices=("held-out", "training"),
        default="held-out",
        help="which part of the photos figures 2 and 3 use: training shows how well the model "
        "fits its own training photos",
    )
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=("composites", "photos", "dev-eval", "timing"),
        default=("composites", "photos", "dev-eval", "timing"),
        help="which figures to print: composites (1, 1b), photos (2, 3), dev-eval (4), "
        "timing (5); default all",
    )
    parser.add_argument(
        "--figure",
        type=Path,
        default=None,
        help="write a side-by-side picture of the held-out photos here",
    )
    args = parser.parse_args(argv)
    if args.figure is not None and "photos" not in args.sections:
        parser.error("--figure draws the held-out photos: add photos to --sections")
    size = tuple(int(v) for v in args.composite_size.lower().split("x"))
    model = skycore.registry.find_model(args.model)
    args.model = model.path
    if args.input_size is not None:
        model = dataclasses.replace(model, input_size=args.input_size)
    if args.mirror_average != "manifest":
        model = dataclasses.replace(model, mirror_average=args.mirror_average == "on")
    models = {"model": model, "reference": args.reference}
    mirror = ", mirror-averaged" if model.mirror_average else ""
    print(f"model: {args.model} at {model.input_size}{mirror}\nreference: {args.reference}")
    if "composites" in args.sections:
        composites_figures(models, args.composites, size, args.seed)
        cutout_paths = list_cutouts()
        if cutout_paths:
            cutouts = [load_cutout(p) for p in split_items(cutout_paths, held_out=True)]
            composites_figures(models, args.composites, size, args.seed, cutouts=cutouts)
        else:
            print("\n1b. skipped: no torcs-data (apt-get install torcs-data)")
    if "photos" in args.sections:
        photo_figures(models, args.figure, held_out=args.photos == "held-out")
    if "dev-eval" in args.sections:
        print("\n4. human labels:", end=" ")
        dev_eval.main([])
    if "timing" in args.sections:
        timing_figures(model, args.repeats)


if __name__ == "__main__":
    main()
