"""The whole recipe of a trained sky model in one command.

From the repository root::

    python -m training                      # the fine-tuned U^2-Net-p
    python -m training --arch effnet-unet   # the fast student
    python -m training --arch skyseg-lite   # the first recipe's small network

builds the dataset cache unless it is there and current (:mod:`training.make_dataset`),
trains or resumes the run with the architecture's settings (:data:`RECIPES`,
:mod:`training.train`) and exports the averaged weights to ``models/<id>.onnx`` with its
manifest (:mod:`training.export`). Interrupt it at any time and run it again: it picks up from
the last checkpoint. ``benchmarks/dev_eval.py`` and ``benchmarks/eval_model.py`` then print
the model's figures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import export, make_dataset, train
from .sources import list_photos, split_photos

#: ``python -m training.train`` settings of each architecture (the rest are its defaults).
RECIPES = {
    "u2netp": [
        "--arch", "u2netp", "--steps", "400", "--batch", "8", "--size", "192",
        "--lr", "1e-4", "--warmup", "20", "--ema-decay", "0.99", "--mix", "0.25,0.55,0.2",
        "--val-every", "100",
    ],
    "effnet-unet": [
        "--arch", "effnet-unet", "--steps", "1500", "--batch", "16", "--size", "192",
        "--lr", "5e-4", "--warmup", "60", "--ema-decay", "0.998", "--mix", "0.25,0.55,0.2",
    ],
    "skyseg-lite": ["--arch", "skyseg-lite"],
}  # fmt: skip


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
    parser.add_argument("--arch", choices=tuple(RECIPES), default="u2netp")
    parser.add_argument("--data", type=Path, default=make_dataset.CACHE_DIR / "dataset.npz")
    parser.add_argument("--run", type=Path, help="default: training/runs/<model id>")
    args = parser.parse_args(argv)
    model_id = export.EXPORTS[args.arch]["model_id"]
    run = args.run or Path("training/runs") / model_id
    if not dataset_is_current(args.data):
        make_dataset.main(["--out", str(args.data)])
    train.main([*RECIPES[args.arch], "--data", str(args.data), "--run", str(run)])
    export.main(["--checkpoint", str(run / "last.pt")])


if __name__ == "__main__":
    main()
