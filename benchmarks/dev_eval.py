"""Sky masks against human labels: ``../shared/data/dev-eval`` (evaluation only, never training).

Run from the repository root::

    python benchmarks/dev_eval.py                  # every model in models/ and `skycore mask`
    python benchmarks/dev_eval.py --teachers       # also the DeepLab, u2netp and their ensemble
    python benchmarks/dev_eval.py --variants       # input size, geometry and mirror averaging

Prints, per subset (CamVid and Cityscapes streets; ADE20K interiors, which have no sky) and
overall, the scoring the labels were made for (the dev-eval README): masks thresholded at 0.5,
ignored pixels left out; mean IoU and mean boundary F (tolerance 0.75 % of the diagonal) over
the photos with sky; false sky, the share of all pixels of the photos without sky that are
called sky (pooled), with the worst photo. Each model is scored on its raw probability
(bilinear to the photo's size) and refined (:func:`skycore.refine`, the shipped pipeline);
``skycore mask`` runs the command line itself over the images folder, as a user would.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import skycore  # noqa: E402
from skycore.metrics import mask_metrics  # noqa: E402

DEV_EVAL = REPO.parent / "shared" / "data" / "dev-eval"
SUBSETS = ("camvid", "cityscapes", "ade20k")

Predictor = Callable[[np.ndarray, "Case"], np.ndarray]


@dataclass(frozen=True)
class Case:
    """One human-labelled photo."""

    name: str
    subset: str
    image: Path
    mask: Path
    ignore: Path | None
    has_sky: bool

    def load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The photo (uint8 RGB), its sky label and its ignore mask (bool, or None)."""
        rgb = skycore.read_image(self.image)
        truth = cv2.imread(str(self.mask), cv2.IMREAD_GRAYSCALE) > 127
        ignore = None
        if self.ignore is not None:
            ignore = cv2.imread(str(self.ignore), cv2.IMREAD_GRAYSCALE) > 127
        return rgb, truth, ignore


def list_cases(folder: Path = DEV_EVAL) -> list[Case]:
    """The photos of ``MANIFEST.tsv``, in its order."""
    table = folder / "MANIFEST.tsv"
    if not table.is_file():
        raise SystemExit(f"{table} not found: ../shared must lie beside the repository")
    with table.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [
        Case(
            name=Path(row["file"]).stem,
            subset=Path(row["file"]).stem.split("_")[0],
            image=folder / row["file"],
            mask=folder / row["mask"],
            ignore=None if row["ignore"] == "-" else folder / row["ignore"],
            has_sky=row["has_sky"] == "1",
        )
        for row in rows
    ]


@dataclass
class Scores:
    """Per-photo scores of one way of making masks."""

    iou: dict[str, float] = dataclasses.field(default_factory=dict)
    boundary_f: dict[str, float] = dataclasses.field(default_factory=dict)
    false_sky: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)

    def add(self, case: Case, mask: np.ndarray, truth: np.ndarray, ignore) -> None:
        if case.has_sky:
            iou, boundary_f, _ = mask_metrics(mask, truth.astype(np.float32), ignore=ignore)
            self.iou[case.name], self.boundary_f[case.name] = iou, boundary_f
        else:
            called = mask > 0.5
            if ignore is not None:
                called = called[~ignore]
            self.false_sky[case.name] = (int(called.sum()), int(called.size))

    def summary(self, cases: list[Case]) -> dict[str, float]:
        """Mean IoU and boundary F per subset and overall, pooled false sky per subset."""
        out: dict[str, float] = {}
        for subset in (*SUBSETS, "all"):
            names = {c.name for c in cases if subset in ("all", c.subset)}
            ious = [v for k, v in self.iou.items() if k in names]
            fs = [v for k, v in self.boundary_f.items() if k in names]
            sky = [v for k, v in self.false_sky.items() if k in names]
            if ious:
                out[f"iou_{subset}"] = float(np.mean(ious))
                out[f"bf_{subset}"] = float(np.mean(fs))
            if sky:
                out[f"false_{subset}"] = sum(s for s, _ in sky) / sum(n for _, n in sky)
        return out

    def worst(self, count: int = 3) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """The lowest-IoU photos with sky and the photos without sky with most false sky."""
        ious = sorted(self.iou.items(), key=lambda kv: kv[1])[:count]
        shares = sorted(
            ((k, s / n) for k, (s, n) in self.false_sky.items()), key=lambda kv: -kv[1]
        )[:count]
        return ious, shares


def score(predict: Predictor, cases: list[Case]) -> Scores:
    """Score ``predict(rgb, case) -> HxW mask in [0, 1]`` on every case."""
    scores = Scores()
    for case in cases:
        rgb, truth, ignore = case.load()
        mask = predict(rgb, case)
        if mask.shape != truth.shape:
            raise ValueError(f"{case.name}: mask {mask.shape}, label {truth.shape}")
        scores.add(case, mask, truth, ignore)
    return scores


def score_probability(
    probability: Callable[[np.ndarray], np.ndarray], cases: list[Case]
) -> tuple[Scores, Scores]:
    """Scores of ``probability(rgb) -> small HxW probability`` bilinearly upsampled (raw)
    and refined at the photo's size (:func:`skycore.refine`), from one run per photo."""
    raw, refined = Scores(), Scores()
    for case in cases:
        rgb, truth, ignore = case.load()
        small = probability(rgb)
        upsampled = cv2.resize(small, rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        raw.add(case, upsampled, truth, ignore)
        refined.add(case, skycore.refine(rgb, small), truth, ignore)
    return raw, refined


def model_probability(model) -> Callable[[np.ndarray], np.ndarray]:
    """The model's sky probability at its input size, as skycore runs it."""
    return lambda rgb: skycore.predict_probability(rgb, model=model)


def cli_masks(cases: list[Case], extra: list[str] | None = None) -> tuple[Predictor, float]:
    """Run ``skycore mask`` over the cases' images as a user would; a predictor that reads
    the masks it wrote, and the command's wall time."""
    out = Path(tempfile.mkdtemp(prefix="skycore-dev-eval-"))
    command = [sys.executable, "-m", "skycore", "mask", *map(str, (c.image for c in cases))]
    start = time.perf_counter()
    subprocess.run([*command, "-o", str(out), *(extra or [])], check=True, cwd=REPO)
    seconds = time.perf_counter() - start

    def predict(rgb: np.ndarray, case: Case) -> np.ndarray:
        return cv2.imread(str(out / f"{case.image.stem}.png"), cv2.IMREAD_GRAYSCALE) / 255.0

    return predict, seconds


def print_header(cases: list[Case]) -> None:
    counts = {s: sum(c.subset == s for c in cases) for s in SUBSETS}
    with_sky = sum(c.has_sky for c in cases)
    print(
        f"dev-eval: {len(cases)} photos ({', '.join(f'{s} {n}' for s, n in counts.items())}); "
        f"{with_sky} with sky, {len(cases) - with_sky} without. Threshold 0.5."
    )
    print(
        f"{'':52s} {'IoU (photos with sky)':>28s}   {'boundary F':>22s}   "
        f"{'false sky (photos without)':>30s}"
    )
    print(
        f"{'':52s} {'all':>8s}{'camvid':>9s}{'city':>8s}   {'all':>7s}{'camvid':>8s}{'city':>7s}"
        f"   {'all':>8s}{'ade20k':>8s}{'city':>7s}{'camvid':>8s}"
    )


def print_row(label: str, scores: Scores, cases: list[Case], *, worst: bool = False) -> None:
    s = scores.summary(cases)

    def pct(key: str) -> str:
        return f"{100 * s[key]:6.2f}%" if key in s else "      -"

    print(
        f"{label:52s} {s['iou_all']:8.4f}{s['iou_camvid']:9.4f}{s['iou_cityscapes']:8.4f}   "
        f"{s['bf_all']:7.4f}{s['bf_camvid']:8.4f}{s['bf_cityscapes']:7.4f}   "
        f"{pct('false_all'):>8s}{pct('false_ade20k'):>8s}{pct('false_cityscapes'):>7s}"
        f"{pct('false_camvid'):>8s}"
    )
    if worst:
        ious, shares = scores.worst()
        print("      lowest IoU: " + ", ".join(f"{k} {v:.3f}" for k, v in ious))
        print("      most false sky: " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in shares))


def shipped_models() -> list[skycore.ModelSpec]:
    """The models of the project's ``models/`` folder that are present."""
    specs = []
    for manifest in skycore.registry.manifests_in(skycore.registry.PROJECT_MODEL_DIR):
        specs += [s for s in skycore.registry.read_manifest(manifest) if s.available]
    return specs


def variants(spec: skycore.ModelSpec) -> dict[str, skycore.ModelSpec]:
    """The model at two input sizes, both geometries, with and without mirror averaging."""
    out = {}
    for size in (320, 384):
        for geometry in ("keep_aspect", "square"):
            for mirror in (False, True):
                label = f"{size} {geometry}{' mirror' if mirror else ''}"
                out[label] = dataclasses.replace(
                    spec, input_size=size, input_geometry=geometry, mirror_average=mirror
                )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        action="append",
        help="a model id or .onnx path to score (repeatable); default: every model in models/",
    )
    parser.add_argument("--teachers", action="store_true", help="also score the teachers")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="score each model at input sizes 320 and 384, keep-aspect and square, with and "
        "without mirror averaging (refined)",
    )
    parser.add_argument("--no-cli", action="store_true", help="skip `skycore mask` as shipped")
    parser.add_argument("--subset", choices=SUBSETS, action="append", help="only these subsets")
    parser.add_argument("--worst", action="store_true", help="list the worst photos per row")
    args = parser.parse_args(argv)
    cases = list_cases()
    if args.subset:
        cases = [c for c in cases if c.subset in args.subset]
    specs = [skycore.find_model(m) for m in args.model] if args.model else shipped_models()
    print_header(cases)
    if not args.no_cli:
        predictor, seconds = cli_masks(cases)
        default = skycore.registry.default_model()
        label = f"skycore mask as shipped ({default.id})"
        print_row(label, score(predictor, cases), cases, worst=args.worst)
        print(f"      ({seconds:.1f} s for the command, {len(cases)} photos)")
    for spec in specs:
        if args.variants:
            for label, variant in variants(spec).items():
                raw, refined = score_probability(model_probability(variant), cases)
                print_row(f"{spec.id} {label} raw", raw, cases)
                print_row(f"{spec.id} {label} refined", refined, cases)
            continue
        geometry = f"{spec.input_size} {spec.input_geometry}"
        mirror = " mirror" if spec.mirror_average else ""
        raw, refined = score_probability(model_probability(spec), cases)
        print_row(f"{spec.id} ({geometry}{mirror}) raw", raw, cases, worst=args.worst)
        print_row(f"{spec.id} ({geometry}{mirror}) refined", refined, cases, worst=args.worst)
    if args.teachers:
        from training import teachers

        probabilities = {
            "DeepLab ADE20K (513 square, mirror)": teachers.deeplab_probability,
            "u2netp reference (384 keep_aspect, mirror)": teachers.u2netp_probability,
            "ensemble: mean of the two": teachers.ensemble_probability,
        }
        for label, probability in probabilities.items():
            raw, refined = score_probability(probability, cases)
            print_row(f"{label} raw", raw, cases, worst=args.worst)
            print_row(f"{label} refined", refined, cases, worst=args.worst)


if __name__ == "__main__":
    main()
