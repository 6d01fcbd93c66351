"""Export a SkySeg-Lite checkpoint to ONNX, check it against PyTorch, write its manifest.

From the repository root::

    python -m training.export --checkpoint training/runs/skyseg-lite/last.pt

(``python -m training`` runs it after training.)

writes ``models/skyseg-lite.onnx`` (opset 17, dynamic batch, height and width) and
``models/skyseg-lite.json``. The export is refused if onnxruntime and PyTorch disagree by more
than ``--tolerance`` on real photos at the default size and at a non-square size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from .augment import MEAN, STD, to_tensor_layout
from .make_dataset import squash
from .model import SkySegLite, parameter_count
from .sources import list_photos, read_photo, split_photos

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
MODEL_ID = "skyseg-lite"
INPUT_SIZE = 320
OPSET = 17

#: Licences of everything the weights were trained from (see models/README.md).
TRAINING_DATA_LICENSES = {
    "stellarium-data landscapes (Debian package, exact-mask composites)": "GPL-2+",
    "torcs-data tree billboards (Debian package, cut out in front of composites)": "GPL-2+",
    "sky photos ../shared/data/skies: crop_skyopt_*": "Apache-2.0",
    "sky photos ../shared/data/skies: crop_kodak_*": "Kodak suite, unrestricted use",
    "sky photos ../shared/data/skies: crop_wikimedia_*": "Wikimedia Commons (CC BY / BY-SA)",
    "sky photos ../shared/data/skies: kirainmoe_*": "MIT (repository licence)",
    "photos ../shared/data/photos: kodak_*": "Kodak suite, unrestricted use",
    "photos ../shared/data/photos: wikimedia_*": "Wikimedia Commons (CC BY / BY-SA)",
    "photos ../shared/data/photos: skyopt_*": "Apache-2.0",
    "lomiri-wallpapers-16.04 (Debian)": "CC-BY-4.0, CC-BY-SA-4.0",
    "lomiri-wallpapers-20.04 (Debian)": "CC-BY-SA-3.0",
    "plasma-workspace-wallpapers (Debian)": "GPL-2+ (metadata.json of each: LGPL-3)",
    "mate-backgrounds (Debian)": "GPL-2+",
    "lxqt-themes wallpapers (Debian)": "LGPL-2.1+",
    "budgie-backgrounds (Debian 13)": "CC0-1.0",
    "opencv-doc sample photos (Debian)": "Apache-2.0 AND BSD-3-Clause",
    "scikit-image sample photos: rocket, astronaut": "public domain",
    "scikit-image sample photos: chelsea, coffee": "CC0-1.0",
    "pseudo-label teacher skyseg-u2netp (xiongzhu666/Sky-Segmentation-and-Post-processing)": "MIT",
}


def load_model(checkpoint: Path) -> SkySegLite:
    """A model of the checkpoint's widths in eval mode, with its averaged weights (``ema``)."""
    state = torch.load(checkpoint, map_location="cpu")
    model = SkySegLite(tuple(state["widths"]))
    model.load_state_dict(state["ema"])
    return model.eval()


def export_onnx(model: SkySegLite, path: Path, *, size: int = INPUT_SIZE) -> None:
    """Write ``model`` as ONNX with input ``input`` and output ``prob``, H and W dynamic."""
    dummy = torch.zeros(1, 3, size, size)
    axes = {0: "batch", 2: "height", 3: "width"}
    torch.onnx.export(
        model,
        dummy,
        str(path),
        input_names=["input"],
        output_names=["prob"],
        opset_version=OPSET,
        dynamic_axes={"input": axes, "prob": axes},
        dynamo=False,
    )


def parity(model: SkySegLite, path: Path, images: list[np.ndarray]) -> float:
    """Largest absolute difference between onnxruntime and PyTorch over ``images`` at
    320x320 and 256x384."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for rgb in images:
        for height, width in ((INPUT_SIZE, INPUT_SIZE), (256, 384)):
            small = squash(rgb, INPUT_SIZE)
            small = np.asarray(
                torch.nn.functional.interpolate(
                    torch.from_numpy(small.astype(np.float32)).permute(2, 0, 1)[None],
                    size=(height, width),
                    mode="area",
                )[0].permute(1, 2, 0)
            )
            tensor = to_tensor_layout(small / 255.0)[None]
            (onnx_out,) = session.run(["prob"], {"input": tensor})
            with torch.no_grad():
                torch_out = model(torch.from_numpy(tensor)).numpy()
            worst = max(worst, float(np.abs(onnx_out - torch_out).max()))
    return worst


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest(path: Path, model: SkySegLite, checkpoint_step: int, max_diff: float) -> dict:
    """The ``models/skyseg-lite.json`` manifest of an exported file."""
    return {
        "schema": 1,
        "models": [
            {
                "id": MODEL_ID,
                "file": path.name,
                "sha256": file_sha256(path),
                "bytes": path.stat().st_size,
                "default": True,
                "description": (
                    "SkySeg-Lite, the project's own small sky model: U-Net of depthwise-"
                    f"separable blocks, {parameter_count(model) / 1e6:.2f} M parameters, "
                    "trained by training/ (see models/README.md)"
                ),
                "architecture": "training/model.py SkySegLite",
                "parameters": parameter_count(model),
                "input_name": "input",
                "input_layout": "NCHW",
                "input_dtype": "float32",
                "input_size": INPUT_SIZE,
                "size_multiple": 32,
                "dynamic_size": True,
                "color_order": "RGB",
                "normalization": "mean_std",
                "normalization_formula": "x = (rgb / 255 - mean) / std, per channel",
                "mean": [round(float(v), 6) for v in MEAN],
                "std": [round(float(v), 6) for v in STD],
                "output_name": "prob",
                "output_shape": "N x 1 x H x W (same H, W as the input)",
                "output": "probability",
                "output_note": "sigmoid applied inside the model; 1 = sky",
                "mirror_average": True,
                "mirror_average_note": (
                    "skycore averages the output over the photo and its left-right mirror; "
                    "models/README.md gives the measured effect"
                ),
                "license": "MIT",
                "license_note": (
                    "weights: MIT, like the project. Trained on the data listed in "
                    "training_data_licenses; the weights contain no copy of those images."
                ),
                "training_data_licenses": TRAINING_DATA_LICENSES,
                "url": None,
                "onnx": {
                    "opset": OPSET,
                    "checkpoint_step": checkpoint_step,
                    "max_abs_diff_vs_pytorch": max_diff,
                },
            }
        ],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkpoint", type=Path, default=Path("training/runs/skyseg-lite/last.pt")
    )
    parser.add_argument("--out", type=Path, default=MODELS_DIR / f"{MODEL_ID}.onnx")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args(argv)
    model = load_model(args.checkpoint)
    step = int(torch.load(args.checkpoint, map_location="cpu")["step"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(model, args.out)
    photos = split_photos(list_photos(), held_out=True)[:6]
    max_diff = parity(model, args.out, [read_photo(p, long_side=640) for p in photos])
    if max_diff > args.tolerance:
        args.out.unlink()
        raise SystemExit(f"onnxruntime and PyTorch differ by {max_diff:.2e}; export refused")
    spec = manifest(args.out, model, step, max_diff)
    args.out.with_suffix(".json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    entry = spec["models"][0]
    print(
        f"wrote {args.out} ({entry['bytes']} bytes, sha256 {entry['sha256']}), "
        f"max |onnxruntime - pytorch| = {max_diff:.2e} on {len(photos)} photos at 2 sizes"
    )


if __name__ == "__main__":
    main()
