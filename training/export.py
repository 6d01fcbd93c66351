"""Export a training checkpoint to ONNX, check it against PyTorch, write its manifest.

From the repository root::

    python -m training.export --checkpoint training/runs/skyseg-u2netp-tuned/last.pt

(``python -m training`` runs it after training.)

writes ``models/<id>.onnx`` (opset 17, dynamic batch, height and width) and ``models/<id>.json``,
the id named by the checkpoint's architecture (:data:`EXPORTS`). The export is refused if
onnxruntime and PyTorch disagree by more than ``--tolerance`` on real photos at the default
size and at a non-square size.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from skycore.registry import file_sha256

from .augment import MEAN, STD, to_tensor_layout
from .effnet_unet import EffNetUNet
from .make_dataset import squash
from .model import SkySegLite, parameter_count
from .sources import list_photos, read_photo, split_photos
from .u2netp import U2NetP

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
INPUT_SIZE = 320
OPSET = 17
#: The model the project marks ``"default": true`` (the best measured on human labels).
DEFAULT_MODEL_ID = "skyseg-u2netp"

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
    "weather photos ../shared/data/weather-photos (Ajayi 2018, Mendeley Data)": "CC-BY-4.0",
    "pseudo-label teacher skyseg-u2netp (xiongzhu666/Sky-Segmentation-and-Post-processing)": "MIT",
    "pseudo-label teacher DeepLabV3 MobileNetV2 ADE20K (TF Hub; labels only, not shipped)": (
        "Apache-2.0 (weights; ADE20K images research-only, not used here)"
    ),
}

#: How each architecture's export is named and described in its manifest.
EXPORTS = {
    "skyseg-lite": {
        "model_id": "skyseg-lite",
        "architecture": "training/model.py SkySegLite",
        "description": (
            "SkySeg-Lite, the project's own small sky model: U-Net of depthwise-separable "
            "blocks trained from scratch by training/ (see models/README.md)"
        ),
        "mirror_average": True,
    },
    "effnet-unet": {
        "model_id": "skyseg-effnet",
        "architecture": "training/effnet_unet.py EffNetUNet",
        "description": (
            "U-Net on the first 11 blocks of an ImageNet-pretrained EfficientNet-Lite0, "
            "trained by training/ on photos labelled by the teachers' ensemble: the fast "
            "option (see models/README.md)"
        ),
        "mirror_average": False,
    },
    "u2netp": {
        "model_id": "skyseg-u2netp-tuned",
        "architecture": "training/u2netp.py U2NetP",
        "description": (
            "the seed's U^2-Net-p (MIT) fine-tuned by training/ on photos labelled by the "
            "teachers' ensemble (see models/README.md)"
        ),
        "mirror_average": False,
    },
}


def load_model(checkpoint: Path) -> tuple[nn.Module, str]:
    """The checkpoint's network in eval mode with its averaged weights (``ema``), and its
    architecture."""
    state = torch.load(checkpoint, map_location="cpu")
    arch = state.get("arch", "skyseg-lite")
    if arch == "u2netp":
        model = U2NetP()
    elif arch == "effnet-unet":
        model = EffNetUNet(pretrained=False)
    else:
        model = SkySegLite(tuple(state["widths"]))
    model.load_state_dict(state["ema"])
    return model.eval(), arch


def export_onnx(model: nn.Module, path: Path, *, size: int = INPUT_SIZE) -> None:
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


def area_resize(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """``rgb`` squashed to ``INPUT_SIZE`` square, then area-resized to ``height x width``
    (float32, 0..255): the same input on every machine for the parity checks."""
    small = squash(rgb, INPUT_SIZE)
    return np.asarray(
        torch.nn.functional.interpolate(
            torch.from_numpy(small.astype(np.float32)).permute(2, 0, 1)[None],
            size=(height, width),
            mode="area",
        )[0].permute(1, 2, 0)
    )


def parity(model: nn.Module, path: Path, images: list[np.ndarray]) -> float:
    """Largest absolute difference between onnxruntime and PyTorch over ``images`` at
    320x320 and 256x384."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for rgb in images:
        for height, width in ((INPUT_SIZE, INPUT_SIZE), (256, 384)):
            small = area_resize(rgb, height, width)
            tensor = to_tensor_layout(small / 255.0)[None]
            (onnx_out,) = session.run(["prob"], {"input": tensor})
            with torch.no_grad():
                torch_out = model(torch.from_numpy(tensor)).numpy()
            worst = max(worst, float(np.abs(onnx_out - torch_out).max()))
    return worst


def manifest_entry(
    path: Path,
    *,
    model_id: str,
    description: str,
    architecture: str,
    parameters: int,
    default: bool,
    mirror_average: bool,
    license: str,
    license_note: str,
    onnx: dict,
    input_size: int = INPUT_SIZE,
    input_geometry: str = "keep_aspect",
) -> dict:
    """One manifest entry in skycore's format (:mod:`skycore.registry`) for an ONNX file
    written by :func:`export_onnx`: input ``input``, output ``prob``, ImageNet normalisation,
    H and W dynamic (multiples of 32)."""
    return {
        "id": model_id,
        "file": path.name,
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
        "default": default,
        "description": description,
        "architecture": architecture,
        "parameters": parameters,
        "input_name": "input",
        "input_layout": "NCHW",
        "input_dtype": "float32",
        "input_size": input_size,
        "input_geometry": input_geometry,
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
        "mirror_average": mirror_average,
        "mirror_average_note": (
            "whether skycore averages the output over the photo and its left-right mirror; "
            "models/README.md gives the measured effect"
        ),
        "license": license,
        "license_note": license_note,
        "url": None,
        "onnx": onnx,
    }


def manifest(path: Path, model: nn.Module, arch: str, checkpoint_step: int, max_diff: float):
    """The manifest of an exported checkpoint of ``arch``."""
    described = EXPORTS[arch]
    entry = manifest_entry(
        path,
        model_id=described["model_id"],
        description=described["description"],
        architecture=described["architecture"],
        parameters=parameter_count(model),
        default=described["model_id"] == DEFAULT_MODEL_ID,
        mirror_average=described["mirror_average"],
        license="MIT",
        license_note=(
            "weights: MIT, like the project"
            + {
                "u2netp": " and the seed's weights they start from",
                "effnet-unet": " (the encoder starts from EfficientNet-Lite0's ImageNet "
                "weights, Apache-2.0)",
            }.get(arch, "")
            + ". Trained on the data listed in training_data_licenses; the weights contain "
            "no copy of those images."
        ),
        onnx={
            "opset": OPSET,
            "checkpoint_step": checkpoint_step,
            "max_abs_diff_vs_pytorch": max_diff,
        },
    )
    entry["training_data_licenses"] = TRAINING_DATA_LICENSES
    return {"schema": 1, "models": [entry]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkpoint", type=Path, default=Path("training/runs/skyseg-u2netp-tuned/last.pt")
    )
    parser.add_argument("--out", type=Path, help="default: models/<id>.onnx")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args(argv)
    model, arch = load_model(args.checkpoint)
    step = int(torch.load(args.checkpoint, map_location="cpu")["step"])
    args.out = args.out or MODELS_DIR / f"{EXPORTS[arch]['model_id']}.onnx"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(model, args.out)
    photos = split_photos(list_photos(), held_out=True)[:6]
    max_diff = parity(model, args.out, [read_photo(p, long_side=640) for p in photos])
    if max_diff > args.tolerance:
        args.out.unlink()
        raise SystemExit(f"onnxruntime and PyTorch differ by {max_diff:.2e}; export refused")
    spec = manifest(args.out, model, arch, step, max_diff)
    args.out.with_suffix(".json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    entry = spec["models"][0]
    print(
        f"wrote {args.out} ({entry['bytes']} bytes, sha256 {entry['sha256']}), "
        f"max |onnxruntime - pytorch| = {max_diff:.2e} on {len(photos)} photos at 2 sizes"
    )


if __name__ == "__main__":
    main()
