"""The whole recipe of the bundled sky model in one command.

From the repository root::

    python -m training

builds the dataset cache unless it is there and current (:mod:`training.make_dataset`),
trains or resumes the run (:mod:`training.train`) and exports the averaged weights to
``models/skyseg-lite.onnx`` with its manifest (:mod:`training.export`). Interrupt it at any
time and run it again: it picks up from the last checkpoint. ``benchmarks/eval_model.py``
then prints the model's figures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import export, make_dataset, train
from .sources import list_photos, split_photos


def dataset_is_current(data: Path) -> bool:
    """Whether the cache exists, was made by this recipe's version and from the training
    photos available now."""
    summary = data.with_suffix(".json")
    if not (data.is_file() and summary.is_file()):
        return False
    cached = json.loads(summary.read_text(encoding="utf-8"))
    photos = [str(p.path) for p in split_photos(list_photos(), held_out=False)]
    return cached.get("version") == make_dataset.DATASET_VERSION and cached.get("photos") == photos


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=make_dataset.CACHE_DIR / "dataset.npz")
    parser.add_argument("--run", type=Path, default=Path("training/runs/skyseg-lite"))
    parser.add_argument("--out", type=Path, default=export.MODELS_DIR / f"{export.MODEL_ID}.onnx")
    args = parser.parse_args(argv)
    if not dataset_is_current(args.data):
        make_dataset.main(["--out", str(args.data)])
    train.main(["--data", str(args.data), "--run", str(args.run)])
    export.main(["--checkpoint", str(args.run / "last.pt"), "--out", str(args.out)])


if __name__ == "__main__":
    main()
