"""The seed's ncnn weights read by training.ncnn, loaded into training.u2netp, and the shipped
``models/skyseg-u2netp.onnx`` they make, checked against the reference conversion in ../shared.

The reader tests need numpy only; the PyTorch tests need the ``[train]`` extra.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

import skycore
from skycore.inference import resize_for_model
from training.ncnn import NcnnFormatError, read_convolutions, read_param

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEED = SHARED / "models" / "seed-ncnn"
PARAM = SEED / "skysegsmall_sim-opt-fp16.param"
WEIGHTS = SEED / "skysegsmall_sim-opt-fp16.bin"
REFERENCE = SHARED / "models" / "skyseg-u2netp.onnx"
SHIPPED = REPO / "models" / "skyseg-u2netp.onnx"
PHOTO = SHARED / "data" / "photos" / "kodak_kodim10.jpg"


def test_param_file_is_read_layer_by_layer() -> None:
    layers = read_param(PARAM)
    assert len(layers) == 331
    assert [layer.type for layer in layers].count("Convolution") == 119
    first = layers[1]
    assert (first.type, first.inputs, first.params[0], first.params[1]) == (
        "Convolution",
        ["input.1"],
        64,
        3,
    )
    assert layers[-7].outputs == ["1959"]  # the fused output, before the side sigmoids


def test_weights_are_consumed_exactly() -> None:
    convolutions = read_convolutions(PARAM, WEIGHTS)
    assert len(convolutions) == 119
    assert sum(c.weight.size + c.bias.size for c in convolutions) == 1_125_485
    first = convolutions[0]
    assert first.weight.shape == (64, 3, 3, 3) and first.weight.dtype == np.float32
    assert (first.dilation, first.padding, first.activation) == (1, 1, 1)
    assert convolutions[-1].weight.shape == (1, 6, 1, 1) and convolutions[-1].activation == 4
    # fp16 values widened exactly: every weight is representable in float16.
    assert np.array_equal(first.weight, first.weight.astype(np.float16).astype(np.float32))


def test_damaged_or_mismatched_files_are_refused(tmp_path: Path) -> None:
    data = WEIGHTS.read_bytes()
    short = tmp_path / "short.bin"
    short.write_bytes(data[:-4])
    with pytest.raises(NcnnFormatError, match="ends inside layer"):
        read_convolutions(PARAM, short)
    long = tmp_path / "long.bin"
    long.write_bytes(data + b"\0\0\0\0")
    with pytest.raises(NcnnFormatError, match="4 bytes left"):
        read_convolutions(PARAM, long)
    tagged = tmp_path / "tagged.bin"
    tagged.write_bytes(b"\x07\0\0\0" + data[4:])
    with pytest.raises(NcnnFormatError, match="unknown weight tag"):
        read_convolutions(PARAM, tagged)
    other = SEED / "EGE_165.ncnn.param"
    with pytest.raises(NcnnFormatError, match="not supported"):
        read_convolutions(other, WEIGHTS)
    not_param = tmp_path / "x.param"
    shutil.copy(WEIGHTS, not_param)
    with pytest.raises((NcnnFormatError, UnicodeDecodeError)):
        read_param(not_param)


def _prepared(size: tuple[int, int]) -> np.ndarray:
    """The photo as the network's input tensor at ``size`` (ImageNet normalisation)."""
    small = resize_for_model(skycore.read_image(PHOTO), *size)
    normalised = (small - np.float32([0.485, 0.456, 0.406])) / np.float32([0.229, 0.224, 0.225])
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None], dtype=np.float32)


@pytest.mark.parametrize("size", [(320, 320), (384, 384), (320, 448)])
def test_shipped_file_matches_the_reference_conversion(size: tuple[int, int]) -> None:
    tensor = _prepared(size)
    ours = ort.InferenceSession(str(SHIPPED), providers=["CPUExecutionProvider"])
    theirs = ort.InferenceSession(str(REFERENCE), providers=["CPUExecutionProvider"])
    (out,) = ours.run(["prob"], {"input": tensor})
    (ref,) = theirs.run(None, {theirs.get_inputs()[0].name: tensor})
    assert out.shape == (1, 1, *size)
    assert float(np.abs(out - ref).max()) <= 1e-4
    assert out.max() > 0.95 and out.min() < 0.05  # sky and ground told apart, not a blank map


def test_pytorch_definition_reproduces_the_reference() -> None:
    torch = pytest.importorskip("torch")
    from training.import_seed import seed_model

    model = seed_model()
    tensor = _prepared((320, 448))
    with torch.no_grad():
        out = model(torch.from_numpy(tensor)).numpy()
    reference = ort.InferenceSession(str(REFERENCE), providers=["CPUExecutionProvider"])
    (ref,) = reference.run(None, {reference.get_inputs()[0].name: tensor})
    assert float(np.abs(out - ref).max()) <= 1e-4
    assert sum(p.numel() for p in model.parameters()) == 1_125_485


def test_import_reproduces_the_shipped_file(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from training import import_seed

    out = tmp_path / "skyseg-u2netp.onnx"
    import_seed.main(["--out", str(out)])
    assert out.read_bytes() == SHIPPED.read_bytes()
    manifest = out.with_suffix(".json").read_text(encoding="utf-8")
    assert skycore.registry.file_sha256(SHIPPED) in manifest


def test_a_model_that_is_not_u2netp_is_refused() -> None:
    pytest.importorskip("torch")
    from training.import_seed import load_seed_weights
    from training.u2netp import U2NetP

    convolutions = read_convolutions(PARAM, WEIGHTS)
    with pytest.raises(ValueError, match="118 convolutions|119"):
        load_seed_weights(U2NetP(), convolutions[:-1])
    convolutions[5].dilation = 3
    with pytest.raises(ValueError, match="ncnn layer Conv_"):
        load_seed_weights(U2NetP(), convolutions)


def test_array_parameters_are_read() -> None:
    layers = read_param(SEED / "EGE_165.ncnn.param")
    (chunk,) = [layer for layer in layers if layer.name == "chunk_0"]
    assert chunk.params == {0: [-233, -233, -233, -233], 1: 0}
