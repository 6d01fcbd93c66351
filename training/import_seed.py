"""Import the seed's published U^2-Net-p weights and ship them as ``models/skyseg-u2netp.onnx``.

From the repository root (needs ``../shared`` beside it and the ``[train]`` extra)::

    python -m training.import_seed

reads ``../shared/models/seed-ncnn/skysegsmall_sim-opt-fp16.param`` / ``.bin`` (the seed's
ncnn files, MIT) with :mod:`training.ncnn`, loads them into :class:`training.u2netp.U2NetP`,
exports ONNX through :mod:`training.export` and writes its manifest. The export is refused
unless onnxruntime agrees with PyTorch and with the reference conversion
``../shared/models/skyseg-u2netp.onnx`` to ``--tolerance`` on real photos at 320x320, 384x384
and 320x448.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from . import export
from .augment import to_tensor_layout
from .composites import SHARED_DIR
from .ncnn import Convolution, read_convolutions
from .sources import list_photos, read_photo
from .u2netp import ConvReLU, U2NetP

SEED_DIR = SHARED_DIR / "models" / "seed-ncnn"
SEED_PARAM = SEED_DIR / "skysegsmall_sim-opt-fp16.param"
SEED_WEIGHTS = SEED_DIR / "skysegsmall_sim-opt-fp16.bin"
REFERENCE_ONNX = SHARED_DIR / "models" / "skyseg-u2netp.onnx"
MODEL_ID = "skyseg-u2netp"
#: ncnn's fused activations: 0 none, 1 ReLU, 4 sigmoid.
_RELU, _NONE, _SIGMOID = 1, 0, 4
#: Parity sizes: the seed's export size, skycore's size and a non-square one.
CHECK_SIZES = ((320, 320), (384, 384), (320, 448))
#: How skycore feeds the model, measured on the human labels of ../shared/data/dev-eval
#: (``benchmarks/dev_eval.py --variants``): the photo squashed to 320x320, as U^2-Net was
#: trained, beat its aspect kept (IoU 0.842 against 0.835, boundary F 0.743 against 0.725,
#: refined); 384 was no better and mirror averaging not worth twice the time.
INPUT_SIZE, INPUT_GEOMETRY = 320, "square"

SOURCE = {
    "repository": "https://github.com/xiongzhu666/Sky-Segmentation-and-Post-processing",
    "commit": "1f7811b32b64ddc957269defff84bc87a3f0b74f",
    "files": ["skysegsmall_sim-opt-fp16.param", "skysegsmall_sim-opt-fp16.bin"],
    "license": "MIT",
    "copyright": "Copyright (c) 2021 xiongzhu666",
}


def convolutions_in_run_order(model: nn.Module) -> list[tuple[nn.Conv2d, int]]:
    """The model's convolutions in the order a forward pass runs them, each with the ncnn
    activation code it must carry (ReLU inside :class:`ConvReLU`, sigmoid on the fuse)."""
    activation = {id(m[0]): _RELU for m in model.modules() if isinstance(m, ConvReLU)}
    if isinstance(model, U2NetP):
        activation[id(model.fuse)] = _SIGMOID
    order: list[nn.Conv2d] = []
    hooks = [
        m.register_forward_hook(lambda module, *_: order.append(module))
        for m in model.modules()
        if isinstance(m, nn.Conv2d)
    ]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, 64, 64))
    finally:
        for hook in hooks:
            hook.remove()
    return [(conv, activation.get(id(conv), _NONE)) for conv in order]


def load_seed_weights(model: nn.Module, convolutions: list[Convolution]) -> None:
    """Copy the ncnn convolutions into ``model`` one to one, in run order.

    Raises
    ------
    ValueError
        If the counts, shapes, dilations, paddings, strides or activations differ anywhere:
        the files are then not this architecture.
    """
    targets = convolutions_in_run_order(model)
    if len(targets) != len(convolutions):
        raise ValueError(
            f"the model has {len(targets)} convolutions, the ncnn file {len(convolutions)}"
        )
    for (conv, activation), source in zip(targets, convolutions, strict=True):
        expected = (
            tuple(conv.weight.shape),
            conv.dilation[0],
            conv.padding[0],
            conv.stride[0],
            activation,
            conv.bias is not None,
        )
        found = (
            source.weight.shape,
            source.dilation,
            source.padding,
            source.stride,
            source.activation,
            source.bias is not None,
        )
        if expected != found:
            raise ValueError(
                f"ncnn layer {source.name}: (shape, dilation, padding, stride, activation, "
                f"bias) {found}, the model's convolution has {expected}"
            )
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(source.weight))
            if conv.bias is not None:
                conv.bias.copy_(torch.from_numpy(source.bias))


def seed_model(param: Path = SEED_PARAM, weights: Path = SEED_WEIGHTS) -> U2NetP:
    """U^2-Net-p with the seed's published weights, in eval mode."""
    model = U2NetP()
    load_seed_weights(model, read_convolutions(param, weights))
    return model.eval()


def check_images(count: int = 6) -> list[np.ndarray]:
    """A few real photos of ``../shared/data/photos`` with sky, at 640 px long side."""
    photos = [p for p in list_photos() if p.has_sky and p.source.startswith("shared-")]
    step = max(1, len(photos) // count)
    return [read_photo(p, long_side=640) for p in photos[::step][:count]]


def max_differences(
    model: nn.Module, path: Path, reference: Path, images: list[np.ndarray]
) -> tuple[float, float]:
    """Largest ``|onnx - pytorch|`` and ``|onnx - reference onnx|`` over ``images`` at
    :data:`CHECK_SIZES`."""
    ours = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = ort.InferenceSession(str(reference), providers=["CPUExecutionProvider"])
    vs_torch = vs_reference = 0.0
    for rgb in images:
        for height, width in CHECK_SIZES:
            small = export.area_resize(rgb, height, width)
            tensor = to_tensor_layout(small / np.float32(255))[None]
            (out,) = ours.run(["prob"], {"input": tensor})
            (ref,) = theirs.run(None, {theirs.get_inputs()[0].name: tensor})
            with torch.no_grad():
                torch_out = model(torch.from_numpy(tensor)).numpy()
            vs_torch = max(vs_torch, float(np.abs(out - torch_out).max()))
            vs_reference = max(vs_reference, float(np.abs(out - ref).max()))
    return vs_torch, vs_reference


def manifest(path: Path, model: nn.Module, vs_torch: float, vs_reference: float) -> dict:
    """The ``models/skyseg-u2netp.json`` manifest of the imported file."""
    entry = export.manifest_entry(
        path,
        model_id=MODEL_ID,
        description=(
            "U^2-Net-p, the seed's own sky model (xiongzhu666/Sky-Segmentation-and-"
            "Post-processing, MIT), imported from its published ncnn weights by "
            "training/import_seed.py"
        ),
        architecture="training/u2netp.py U2NetP",
        parameters=export.parameter_count(model),
        default=MODEL_ID == export.DEFAULT_MODEL_ID,
        mirror_average=False,
        input_size=INPUT_SIZE,
        input_geometry=INPUT_GEOMETRY,
        license="MIT",
        license_note="weights: MIT, Copyright (c) 2021 xiongzhu666 (the seed's LICENSE)",
        onnx={
            "opset": export.OPSET,
            "max_abs_diff_vs_pytorch": vs_torch,
            "max_abs_diff_vs_reference_conversion": vs_reference,
            "checked_sizes": [f"{h}x{w}" for h, w in CHECK_SIZES],
        },
    )
    entry["source"] = SOURCE
    return {"schema": 1, "models": [entry]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--param", type=Path, default=SEED_PARAM)
    parser.add_argument("--weights", type=Path, default=SEED_WEIGHTS)
    parser.add_argument("--reference", type=Path, default=REFERENCE_ONNX)
    parser.add_argument("--out", type=Path, default=export.MODELS_DIR / f"{MODEL_ID}.onnx")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args(argv)
    model = seed_model(args.param, args.weights)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export.export_onnx(model, args.out)
    images = check_images()
    vs_torch, vs_reference = max_differences(model, args.out, args.reference, images)
    if max(vs_torch, vs_reference) > args.tolerance:
        args.out.unlink()
        raise SystemExit(
            f"max |onnx - pytorch| = {vs_torch:.2e}, |onnx - reference| = {vs_reference:.2e}: "
            f"over {args.tolerance:.0e}, export refused"
        )
    spec = manifest(args.out, model, vs_torch, vs_reference)
    args.out.with_suffix(".json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    entry = spec["models"][0]
    print(
        f"wrote {args.out} ({entry['bytes']} bytes, sha256 {entry['sha256']}); on "
        f"{len(images)} photos at {', '.join(entry['onnx']['checked_sizes'])}: max |onnx - "
        f"pytorch| = {vs_torch:.2e}, max |onnx - {args.reference.name}| = {vs_reference:.2e}"
    )


if __name__ == "__main__":
    main()
