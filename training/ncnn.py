"""Read the layers and convolution weights of an ncnn ``.param`` / ``.bin`` pair.

Only what the seed's published models need: the text ``.param`` graph (magic ``7767517``, a
``LAYER_COUNT BLOB_COUNT`` line, then ``TYPE NAME N_IN N_OUT IN... OUT... K=V...`` per layer)
and the weights of its Convolution layers, stored in the ``.bin`` in layer order: a 4-byte
tag (``0x01306B47``: float16 values follow, padded to 4 bytes; ``0``: float32), the weights
``out x in x kh x kw``, then the bias as raw float32 with no tag. The file must be consumed
exactly; anything else is refused, so a changed or damaged file cannot load half-right.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PARAM_MAGIC = "7767517"
FP16_TAG = 0x01306B47
FP32_TAG = 0
#: Layers that carry no weights in the ``.bin`` (the ones the seed's models use).
WEIGHTLESS = {"Input", "Split", "Pooling", "Interp", "Concat", "BinaryOp", "Sigmoid"}


class NcnnFormatError(ValueError):
    """The files are not an ncnn model this reader understands."""


@dataclass
class Layer:
    """One ``.param`` line: ``params`` maps ncnn's integer keys to numbers or, for array
    parameters, lists of numbers."""

    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, int | float | list[int | float]] = field(default_factory=dict)


@dataclass
class Convolution:
    """Weights of one Convolution layer, float32, as PyTorch's ``Conv2d`` holds them."""

    name: str
    weight: np.ndarray
    bias: np.ndarray | None
    dilation: int
    stride: int
    padding: int
    activation: int


#: ncnn writes an array parameter ``k`` under the key ``-23300 - k`` as ``COUNT,V1,...``.
_ARRAY_KEY = -23300


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def _parameter(key: str, value: str) -> tuple[int, int | float | list[int | float]]:
    number = int(key)
    if number > _ARRAY_KEY:
        return number, _number(value)
    count, *items = value.split(",")
    if int(count) != len(items):
        raise ValueError
    return _ARRAY_KEY - number, [_number(v) for v in items]


def read_param(path: str | Path) -> list[Layer]:
    """The layers of a ``.param`` file, in file order."""
    lines = Path(path).read_text(encoding="ascii").split("\n")
    if not lines or lines[0].strip() != PARAM_MAGIC:
        raise NcnnFormatError(f"{path}: not an ncnn .param file (first line {lines[0][:20]!r})")
    try:
        layer_count, _blob_count = (int(v) for v in lines[1].split())
    except (IndexError, ValueError):
        raise NcnnFormatError(f"{path}: second line must be 'LAYER_COUNT BLOB_COUNT'") from None
    layers = []
    for number, line in enumerate(lines[2:], start=3):
        words = line.split()
        if not words:
            continue
        try:
            kind, name, n_in, n_out = words[0], words[1], int(words[2]), int(words[3])
            blobs = words[4 : 4 + n_in + n_out]
            if len(blobs) != n_in + n_out:
                raise ValueError
            parsed = dict(_parameter(*w.split("=", 1)) for w in words[4 + n_in + n_out :])
        except (IndexError, ValueError):
            raise NcnnFormatError(f"{path}:{number}: cannot parse layer line {line!r}") from None
        layers.append(Layer(kind, name, blobs[:n_in], blobs[n_in:], parsed))
    if len(layers) != layer_count:
        raise NcnnFormatError(f"{path}: header says {layer_count} layers, file has {len(layers)}")
    return layers


def read_convolutions(param: str | Path, weights: str | Path) -> list[Convolution]:
    """The Convolution layers of an ncnn model with their weights, in graph order.

    Raises
    ------
    NcnnFormatError
        For a layer type this reader does not know, an unknown weight tag, or a ``.bin`` file
        that is not consumed exactly.
    """
    layers = read_param(param)
    data = Path(weights).read_bytes()
    offset = 0
    convolutions = []
    for layer in layers:
        if layer.type in WEIGHTLESS:
            continue
        if layer.type != "Convolution":
            raise NcnnFormatError(f"{param}: layer type {layer.type} ({layer.name}) not supported")
        p = layer.params
        out_channels, kernel, count = int(p[0]), int(p[1]), int(p[6])
        if p.get(11, kernel) != kernel or p.get(13, p.get(3, 1)) != p.get(3, 1):
            raise NcnnFormatError(f"{layer.name}: only square kernels and strides are supported")
        in_channels = count // (out_channels * kernel * kernel)
        if in_channels * out_channels * kernel * kernel != count:
            raise NcnnFormatError(f"{layer.name}: weight count {count} does not fit the shape")
        if offset + 4 > len(data):
            raise NcnnFormatError(f"{weights}: ends inside layer {layer.name}")
        (tag,) = struct.unpack_from("<I", data, offset)
        offset += 4
        if tag == FP16_TAG:
            dtype, size = np.float16, 2 * count
            padded = (size + 3) // 4 * 4
        elif tag == FP32_TAG:
            dtype, size = np.float32, 4 * count
            padded = size
        else:
            raise NcnnFormatError(f"{layer.name}: unknown weight tag {tag:#010x}")
        if offset + padded > len(data):
            raise NcnnFormatError(f"{weights}: ends inside layer {layer.name}")
        weight = np.frombuffer(data, dtype, count, offset).astype(np.float32)
        offset += padded
        bias = None
        if p.get(5, 0):
            if offset + 4 * out_channels > len(data):
                raise NcnnFormatError(f"{weights}: ends inside layer {layer.name}")
            bias = np.frombuffer(data, np.float32, out_channels, offset).copy()
            offset += 4 * out_channels
        convolutions.append(
            Convolution(
                name=layer.name,
                weight=weight.reshape(out_channels, in_channels, kernel, kernel),
                bias=bias,
                dilation=int(p.get(2, 1)),
                stride=int(p.get(3, 1)),
                padding=int(p.get(4, 0)),
                activation=int(p.get(9, 0)),
            )
        )
    if offset != len(data):
        raise NcnnFormatError(
            f"{weights}: {len(data) - offset} bytes left after the last layer; "
            "the .bin does not belong to this .param"
        )
    return convolutions
