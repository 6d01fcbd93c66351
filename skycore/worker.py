"""Out-of-process worker: pixels in, sky mask (or sky replacement layers) out, over stdin/stdout.

GIMP's own Python (Windows, macOS, Flatpak) has no numpy or onnxruntime, so the GIMP plug-in
runs ``python -m skycore.worker`` in the environment ``install.py`` made and talks to it with
raw float32 buffers (no lossy files). One request per process:

Request (stdin)
    One line of JSON, then the raw input buffers in the order listed::

        {"protocol": 1, "task": "mask",
         "inputs": [{"name": "image", "width": W, "height": H, "channels": 3}],
         "options": {"model": null, "refine": true, "density": false,
                     "shift_edge": 0, "feather": 0, "invert": false}}

    Task ``"replace"`` takes inputs ``image`` and ``sky`` (any size), the options of
    :func:`skycore.replace.replace_sky` plus ``model``/``refine``/``density``, and answers with
    outputs ``sky``, ``alpha`` and ``foreground`` (see :func:`run_replace`).

    Each buffer is ``H*W*channels`` values, row-major, of the input's ``"dtype"``:
    ``"float32"`` (the default; in ``[0, 1]``), ``"uint16"`` or ``"uint8"``, little-endian (the
    layout of a GEGL buffer read as ``"R'G'B' float"``, ``"R'G'B' u16"`` or ``"R'G'B' u8"``).

Reply (stdout)
    Zero or more progress lines ``{"progress": 0.4, "message": "..."}``, then one result line,
    either ``{"status": "ok", "outputs": [{"name": "mask", "width": W, "height": H,
    "channels": 1}], "info": {...}}`` followed by the output buffers, or
    ``{"status": "error", "kind": "ModelError", "message": "..."}``. The exit status is 0
    after a reply, whatever it says.

Messages in error replies are meant for the photographer; unexpected errors also print their
traceback on stderr for the log.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import BinaryIO

import numpy as np

from . import maskops
from .errors import ImageError, SkyCoreError
from .models import find_model, get_session
from .pipeline import sky_mask

PROTOCOL = 1
_TASKS = ("mask", "replace")  # the runners are in _RUNNERS, below
#: Pixel types an input may have (little-endian), by the name a request gives.
_DTYPES = {"float32": "<f4", "uint16": "<u2", "uint8": "u1"}
_MASK_OPTIONS = {
    "model": None,
    "refine": True,
    "density": False,
    "shift_edge": 0.0,
    "feather": 0.0,
    "invert": False,
}


_REPLACE_OPTIONS = {
    "model": None,
    "refine": True,
    "density": False,
    "scale": 1.0,
    "offset_x": 0.0,
    "offset_y": 0.0,
    "flip": False,
    "anchor": "horizon",
    "shift_edge": 0.0,
    "fade_edge": 0.0,
    "defringe": True,
    "amount": 0.5,
    "brightness": 0.0,
    "temperature": 0.0,
    "lighting": 0.3,
}


class RequestError(SkyCoreError):
    """The request is malformed (a bug in the caller, not in the photo)."""


def _read_exact(stream: BinaryIO, size: int) -> bytes:
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


def read_request(stream: BinaryIO) -> tuple[dict, dict[str, np.ndarray]]:
    """Read one request: its header and its input arrays (``HxWxC``, ``C`` dropped if 1).

    Raises
    ------
    RequestError
        If the header is not valid JSON or does not describe the inputs properly.
    ImageError
        If the pixel data is shorter than the header says.
    """
    line = stream.readline()
    try:
        header = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(f"the request header is not JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("protocol") != PROTOCOL:
        raise RequestError(f"expected protocol {PROTOCOL}, got {line[:80]!r}")
    if header.get("task") not in _TASKS:
        raise RequestError(f"unknown task {header.get('task')!r}; known tasks: {_TASKS}")
    arrays = {}
    for spec in header.get("inputs", []):
        try:
            name = str(spec["name"])
            height, width, channels = int(spec["height"]), int(spec["width"]), int(spec["channels"])
            dtype = np.dtype(_DTYPES[spec.get("dtype", "float32")])
        except (KeyError, TypeError, ValueError):
            raise RequestError(f"bad input description {spec!r}") from None
        if height < 1 or width < 1 or channels not in (1, 3, 4):
            raise RequestError(f"input {name!r}: bad size {width}x{height}x{channels}")
        data = _read_exact(stream, height * width * channels * dtype.itemsize)
        array = np.frombuffer(data, dtype=dtype).reshape(height, width, channels)
        arrays[name] = array[:, :, 0] if channels == 1 else array
    return header, arrays


def _options(header: dict, defaults: dict) -> dict:
    given = header.get("options") or {}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise RequestError(f"unknown option(s) {', '.join(unknown)}")
    return {**defaults, **given}


def _send(stream: BinaryIO, message: dict, *buffers: np.ndarray) -> None:
    stream.write(json.dumps(message).encode() + b"\n")
    for buffer in buffers:
        stream.write(np.ascontiguousarray(buffer, dtype="<f4").tobytes())
    stream.flush()


def _sky_mask(image: np.ndarray, options: dict, out: BinaryIO):
    """Load the model and compute the photo's sky mask; returns (spec, mask, timings)."""
    timings = {}
    started = time.perf_counter()
    _send(out, {"progress": 0.05, "message": "Loading the sky model"})
    spec = find_model(options["model"] or None)
    get_session(spec)
    timings["model_load_s"] = time.perf_counter() - started
    _send(out, {"progress": 0.2, "message": "Finding the sky"})
    mark = time.perf_counter()
    mask = sky_mask(
        image, model=spec, refine=bool(options["refine"]), density=bool(options["density"])
    )
    timings["mask_s"] = time.perf_counter() - mark
    return spec, mask, timings


def run_mask(header: dict, inputs: dict[str, np.ndarray], out: BinaryIO) -> None:
    """Compute the sky mask for a ``mask`` request and write the reply."""
    options = _options(header, _MASK_OPTIONS)
    if "image" not in inputs:
        raise RequestError("a mask request needs an input named 'image'")
    spec, mask, timings = _sky_mask(inputs["image"], options, out)
    _send(out, {"progress": 0.85, "message": "Adjusting the edge"})
    mark = time.perf_counter()
    mask = maskops.adjust_mask(
        mask,
        shift=float(options["shift_edge"]),
        feather_radius=float(options["feather"]),
        inverted=bool(options["invert"]),
    )
    timings["adjust_s"] = time.perf_counter() - mark
    height, width = mask.shape
    info = {"model": spec.id, "sky_fraction": float(mask.mean()), **timings}
    _send(
        out,
        {
            "status": "ok",
            "outputs": [{"name": "mask", "width": width, "height": height, "channels": 1}],
            "info": info,
        },
        mask,
    )


def run_replace(header: dict, inputs: dict[str, np.ndarray], out: BinaryIO) -> None:
    """Replace the sky of input ``image`` with input ``sky``; reply with the separate layers.

    Outputs: ``sky`` (the new sky placed over the whole photo, ``HxWx3``), ``alpha`` (foreground
    opacity, ``HxW``) and ``foreground`` (the photo after defringe and harmonisation,
    ``HxWx3``); see :class:`skycore.replace.SkyReplacement`.
    """
    from .replace import replace_sky  # only this task needs it: mask requests start faster

    options = _options(header, _REPLACE_OPTIONS)
    if "image" not in inputs or "sky" not in inputs:
        raise RequestError("a replace request needs inputs named 'image' and 'sky'")
    spec, mask, timings = _sky_mask(inputs["image"], options, out)
    _send(out, {"progress": 0.6, "message": "Placing and blending the new sky"})
    mark = time.perf_counter()
    settings = {k: v for k, v in options.items() if k not in ("model", "refine", "density")}
    try:
        result = replace_sky(inputs["image"], inputs["sky"], mask, **settings)
    except ValueError as exc:
        if isinstance(exc, SkyCoreError):
            raise
        raise RequestError(str(exc)) from None
    timings["replace_s"] = time.perf_counter() - mark
    height, width = result.alpha.shape
    outputs = [
        {"name": "sky", "width": width, "height": height, "channels": 3},
        {"name": "alpha", "width": width, "height": height, "channels": 1},
        {"name": "foreground", "width": width, "height": height, "channels": 3},
    ]
    info = {"model": spec.id, "sky_fraction": float(mask.mean()), **timings}
    _send(
        out,
        {"status": "ok", "outputs": outputs, "info": info},
        result.sky,
        result.alpha,
        result.foreground,
    )


_RUNNERS = {"mask": run_mask, "replace": run_replace}


def serve(stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Answer one request from ``stdin`` on ``stdout``; returns the process exit status."""
    try:
        header, inputs = read_request(stdin)
        _RUNNERS[header["task"]](header, inputs, stdout)
    except SkyCoreError as exc:
        _send(stdout, {"status": "error", "kind": type(exc).__name__, "message": str(exc)})
    except MemoryError:
        _send(
            stdout,
            {
                "status": "error",
                "kind": "MemoryError",
                "message": "not enough memory for an image this large; "
                "scale it down or close other programs",
            },
        )
    except Exception as exc:  # the reply must still come, whatever broke
        traceback.print_exc(file=sys.stderr)
        _send(
            stdout,
            {
                "status": "error",
                "kind": type(exc).__name__,
                "message": f"unexpected error ({type(exc).__name__}: {exc})",
            },
        )
    return 0


def main() -> int:
    """Entry point of ``python -m skycore.worker``."""
    # The reply owns file descriptor 1: anything else printing to stdout (a library, a C
    # extension) goes to stderr instead of corrupting it.
    reply = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    with reply:
        return serve(sys.stdin.buffer, reply)


if __name__ == "__main__":
    sys.exit(main())
