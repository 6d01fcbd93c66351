"""The worker protocol: how a front end and ``python -m skycore.worker`` talk over a pipe.

One request per worker process. The request is one line of JSON, then the raw input buffers
in the order listed::

    {"protocol": 1, "task": "mask",
     "inputs": [{"name": "image", "width": W, "height": H, "channels": 3,
                 "dtype": "uint8"}],
     "options": {"shift_edge": 4.0}}

``task`` is a key of :data:`skycore.options.TASKS` and ``options`` any of that task's options
(by their Python names; the rest take the table's defaults). Each buffer is
``H * W * channels`` values, row-major, little-endian, of its ``dtype`` (:data:`DTYPES`; the
layout of a GEGL buffer read as ``"R'G'B' float"``, ``"R'G'B' u16"`` or ``"R'G'B' u8"``).

The reply is zero or more progress lines ``{"progress": 0.4, "message": "..."}``, then one
result line: ``{"status": "ok", "outputs": [{"name": "mask", "width": W, "height": H,
"channels": 1, "dtype": "float32"}], "info": {...}}`` followed by the output buffers, or
``{"status": "error", "kind": "ModelError", "message": "..."}``.

Standard library only: the GIMP plug-in speaks it from GIMP's own Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import BinaryIO

from .errors import ImageError, SkyCoreError

PROTOCOL = 1
#: Pixel types a buffer may have, by name: (numpy dtype string, bytes per value).
DTYPES = {"float32": ("<f4", 4), "uint16": ("<u2", 2), "uint8": ("u1", 1)}


class RequestError(SkyCoreError):
    """The request is malformed (a bug in the caller, not in the photo)."""


class ReplyError(SkyCoreError):
    """The worker answered with an error (``kind`` names it, the message is the
    photographer's), or not as the protocol says (``kind`` is None)."""

    def __init__(self, message: str, kind: str | None = None):
        super().__init__(message)
        self.kind = kind


def buffer_spec(name: str, width: int, height: int, channels: int, dtype: str) -> dict:
    """The description of one buffer, as requests and replies list them."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {tuple(DTYPES)}, got {dtype!r}")
    return {"name": name, "width": width, "height": height, "channels": channels, "dtype": dtype}


def buffer_bytes(spec: dict) -> int:
    """Size in bytes of the buffer ``spec`` describes."""
    return spec["width"] * spec["height"] * spec["channels"] * DTYPES[spec["dtype"]][1]


def request_header(task: str, inputs: list[dict], options: dict) -> bytes:
    """The request line (JSON and a newline) for ``task`` with these input buffers."""
    message = {"protocol": PROTOCOL, "task": task, "inputs": inputs, "options": options}
    return json.dumps(message).encode() + b"\n"


def parse_request_header(line: bytes, tasks) -> dict:
    """The request line's header, with each input's description checked and completed.

    Raises
    ------
    RequestError
        If the line is not JSON, not this protocol, names an unknown task or describes its
        inputs badly.
    """
    try:
        header = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(f"the request header is not JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("protocol") != PROTOCOL:
        raise RequestError(f"expected protocol {PROTOCOL}, got {line[:80]!r}")
    if header.get("task") not in tasks:
        raise RequestError(f"unknown task {header.get('task')!r}; known tasks: {tuple(tasks)}")
    inputs = []
    for spec in header.get("inputs", []):
        try:
            checked = buffer_spec(
                str(spec["name"]),
                int(spec["width"]),
                int(spec["height"]),
                int(spec["channels"]),
                spec.get("dtype", "float32"),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise RequestError(f"bad input description {spec!r}") from None
        if checked["height"] < 1 or checked["width"] < 1 or checked["channels"] not in (1, 3, 4):
            raise RequestError(
                f"input {checked['name']!r}: bad size "
                f"{checked['width']}x{checked['height']}x{checked['channels']}"
            )
        inputs.append(checked)
    header["inputs"] = inputs
    if not isinstance(header.get("options") or {}, dict):
        raise RequestError("the request's options must be an object")
    return header


def read_exact(stream: BinaryIO, size: int) -> bytes:
    """Exactly ``size`` bytes from ``stream``; ImageError if it ends first."""
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(min(remaining, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    data = b"".join(chunks)
    if len(data) != size:
        raise ImageError(f"the pixel data ended early: got {len(data)} of {size} bytes")
    return data


def write_message(stream: BinaryIO, message: dict, *buffers: bytes) -> None:
    """One reply line and its buffers."""
    stream.write(json.dumps(message).encode() + b"\n")
    for buffer in buffers:
        stream.write(buffer)
    stream.flush()


def read_reply(
    stream: BinaryIO, on_progress: Callable[[float, str], None] | None = None
) -> tuple[dict, dict[str, bytes]]:
    """Read the worker's reply: the result line and ``{output name: bytes}``.

    Progress lines go to ``on_progress(fraction, message)``.

    Raises
    ------
    ReplyError
        If the worker reported an error, or the reply ended or broke the protocol.
    """
    for line in stream:
        try:
            message = json.loads(line)
        except ValueError:
            break
        if "status" not in message:
            if on_progress is not None:
                on_progress(float(message.get("progress", 0.0)), message.get("message", ""))
            continue
        if message["status"] != "ok":
            raise ReplyError(message.get("message", "unknown error"), message.get("kind", ""))
        outputs = {}
        for spec in message.get("outputs", []):
            try:
                outputs[spec["name"]] = read_exact(stream, buffer_bytes(spec))
            except ImageError:
                raise ReplyError(f"the worker sent a truncated {spec['name']} image") from None
        return message, outputs
    raise ReplyError("the worker stopped without an answer")
