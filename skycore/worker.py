"""Out-of-process worker: ``python -m skycore.worker`` answers one request over stdin/stdout.

GIMP's own Python (Windows, macOS, Flatpak) has no numpy or onnxruntime, so the GIMP plug-in
runs this module in the environment ``install.py`` made and talks to it in the protocol of
:mod:`skycore.protocol`, with raw pixel buffers (no lossy files). Task ``"mask"`` runs
:func:`skycore.pipeline.select_sky` on input ``image`` and answers with output ``mask``;
task ``"replace"`` runs :func:`skycore.pipeline.replace_sky` on inputs ``image`` and ``sky``
and answers with outputs ``sky``, ``alpha`` and ``foreground`` (the layers, no composite);
task ``"enhance"`` runs :func:`skycore.enhance.enhance_sky` on input ``image`` and answers
with outputs ``sky`` and ``alpha``.
Options and their defaults are those of :mod:`skycore.options`.

``python -m skycore.worker --daemon SOCKET`` stays up instead and answers one request per
connection on that Unix socket, one at a time, with the model loaded once; it exits after
``--idle`` seconds (default :data:`skycore.protocol.IDLE_EXIT_S`) without a request.
:func:`skycore.protocol.call` starts it on first use.

Messages in error replies are meant for the photographer; unexpected errors also print their
traceback on stderr for the log. The exit status is 0 after a reply, whatever it says.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import BinaryIO

import numpy as np

from . import options as option_tables
from .enhance import enhance_sky
from .errors import SkyCoreError
from .image import as_float_rgb, to_unit_float, unit_scale
from .inference import predict_probability
from .pipeline import replace_sky, select_sky
from .protocol import (
    DTYPES,
    IDLE_EXIT_S,
    RequestError,
    buffer_bytes,
    buffer_spec,
    parse_request_header,
    read_exact,
    write_message,
)
from .registry import find_model
from .sessions import get_session


def read_request(stream: BinaryIO) -> tuple[dict, dict[str, np.ndarray]]:
    """Read one request: its header and its input arrays (``HxWxC``, ``C`` dropped if 1).

    Raises
    ------
    RequestError
        If the header is not valid JSON or does not describe the inputs properly.
    ImageError
        If the pixel data is shorter than the header says.
    """
    header = parse_request_header(stream.readline(), option_tables.TASKS)
    arrays = {}
    for spec in header["inputs"]:
        dtype = np.dtype(DTYPES[spec["dtype"]][0])
        data = read_exact(stream, buffer_bytes(spec))
        array = np.frombuffer(data, dtype=dtype).reshape(
            spec["height"], spec["width"], spec["channels"]
        )
        arrays[spec["name"]] = array[:, :, 0] if spec["channels"] == 1 else array
    return header, arrays


def _encoded(array: np.ndarray, dtype: str) -> bytes:
    """``array`` (float in ``[0, 1]``, or already of ``dtype``) as the bytes of ``dtype``."""
    numpy_dtype = np.dtype(DTYPES[dtype][0])
    if array.dtype == numpy_dtype:
        return np.ascontiguousarray(array).tobytes()
    array = to_unit_float(array)
    if dtype == "float32":
        return np.ascontiguousarray(array, dtype=numpy_dtype).tobytes()
    scale = 1 / unit_scale(numpy_dtype)
    return np.round(np.clip(array, 0, 1) * scale).astype(numpy_dtype).tobytes()


def _send(stream: BinaryIO, message: dict, *arrays: np.ndarray) -> None:
    """A reply line and its output arrays, each in the dtype its description gives."""
    dtypes = [spec["dtype"] for spec in message.get("outputs", [])]
    buffers = [_encoded(a, d) for a, d in zip(arrays, dtypes, strict=True)]
    write_message(stream, message, *buffers)


def _output(header: dict, name: str, array: np.ndarray) -> dict:
    """The description of output ``name``, in the dtype the request asked for it."""
    dtype = (header.get("output_dtypes") or {}).get(name, "float32")
    if dtype not in DTYPES:
        raise RequestError(f"output {name!r}: dtype must be one of {tuple(DTYPES)}, got {dtype!r}")
    channels = 1 if array.ndim == 2 else array.shape[2]
    return buffer_spec(name, array.shape[1], array.shape[0], channels, dtype)


def _settings(header: dict, task: str) -> dict:
    try:
        return option_tables.validate(option_tables.TASKS[task], header.get("options") or {})
    except ValueError as exc:
        raise RequestError(str(exc)) from None


def _load_model(settings: dict, out: BinaryIO) -> tuple[dict, dict]:
    """Resolve and load the model first, so its time is reported apart from the work."""
    started = time.perf_counter()
    _send(out, {"progress": 0.05, "message": "Loading the sky model"})
    spec = find_model(settings["model"])
    get_session(spec)
    return {**settings, "model": spec}, {"model": spec.id, "model_load_s": _since(started)}


def _since(mark: float) -> float:
    return time.perf_counter() - mark


#: Previews are at most this many pixels; their model probability is kept (by the photo's
#: bytes) so that a dialog's previews run the model once however often an option changes.
PREVIEW_MAX_PIXELS = 1_000_000
_previews: dict[tuple[bytes, str], np.ndarray] = {}
#: The tint of the sky in a mask preview (magenta, as in the project's pictures), and its share.
PREVIEW_TINT, PREVIEW_TINT_SHARE = np.array([1.0, 0.0, 1.0], np.float32), 0.55


def _preview_probability(image: np.ndarray, spec) -> np.ndarray:
    """The model's probability of a preview image, from the cache when seen before."""
    key = (hashlib.sha1(np.ascontiguousarray(image).data).digest(), spec.id)
    if key not in _previews:
        if len(_previews) >= 4:
            _previews.pop(next(iter(_previews)))
        _previews[key] = predict_probability(image, spec)
    return _previews[key]


def _preview_spec(header: dict, inputs: dict[str, np.ndarray]) -> dict | None:
    """The request's ``"preview"`` (``{"channels": 1-4}``), checked, or None."""
    preview = header.get("preview")
    if preview is None:
        return None
    if not isinstance(preview, dict) or preview.get("channels") not in (1, 2, 3, 4):
        raise RequestError("preview must be an object with channels 1 to 4")
    if inputs["image"].shape[0] * inputs["image"].shape[1] > PREVIEW_MAX_PIXELS:
        raise RequestError(f"a preview image must have at most {PREVIEW_MAX_PIXELS} pixels")
    return preview


def _send_preview(out: BinaryIO, rgb: np.ndarray, channels: int, info: dict) -> None:
    """The picture to show, as uint8 in the layout the front end draws (gray and/or alpha)."""
    picture = np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8)
    if channels <= 2:
        picture = np.round(picture.mean(axis=2, keepdims=True)).astype(np.uint8)
    if channels in (2, 4):
        picture = np.dstack([picture, np.full(picture.shape[:2], 255, np.uint8)])
    height, width = picture.shape[:2]
    spec = buffer_spec("preview", width, height, channels, "uint8")
    write_message(out, {"status": "ok", "outputs": [spec], "info": info}, picture.tobytes())


def _start(
    header: dict, inputs: dict[str, np.ndarray], out: BinaryIO, task: str, message: str
) -> tuple[dict, dict, dict | None, float]:
    """What every task does first: check its options and the preview request, load the
    model, say what comes next. Returns the settings (with the cached model probability of
    a preview image), the info so far, the preview request or None, and when the work began."""
    preview = _preview_spec(header, inputs)
    settings, info = _load_model(_settings(header, task), out)
    _send(out, {"progress": 0.2, "message": message})
    started = time.perf_counter()
    if preview is not None:
        settings["probability"] = _preview_probability(inputs["image"], settings["model"])
    return settings, info, preview, started


def run_mask(header: dict, inputs: dict[str, np.ndarray], out: BinaryIO) -> None:
    """Answer a ``mask`` request: the sky mask with the selection edits, or with
    ``"preview"`` the photo with its sky tinted."""
    if "image" not in inputs:
        raise RequestError("a mask request needs an input named 'image'")
    settings, info, preview, mark = _start(header, inputs, out, "mask", "Finding the sky")
    mask = select_sky(inputs["image"], **settings)
    info |= {"mask_s": _since(mark), "sky_fraction": float(mask.mean())}
    if preview is not None:
        rgb = as_float_rgb(inputs["image"])
        share = (mask * np.float32(PREVIEW_TINT_SHARE))[:, :, None]
        _send_preview(out, rgb * (1 - share) + PREVIEW_TINT * share, preview["channels"], info)
        return
    _send(out, {"status": "ok", "outputs": [_output(header, "mask", mask)], "info": info}, mask)


def run_replace(header: dict, inputs: dict[str, np.ndarray], out: BinaryIO) -> None:
    """Answer a ``replace`` request: the layers of the sky replacement, or with
    ``"preview"`` their composite.

    Outputs: ``sky`` (the new sky placed over the whole photo, ``HxWx3``), ``alpha``
    (foreground opacity, ``HxW``) and ``foreground`` (the photo after defringe and
    harmonisation, ``HxWx3``); see :class:`skycore.replace.SkyReplacement`.
    """
    if "image" not in inputs or "sky" not in inputs:
        raise RequestError("a replace request needs inputs named 'image' and 'sky'")
    settings, info, preview, mark = _start(
        header, inputs, out, "replace", "Finding the sky and placing the new one"
    )
    result = replace_sky(inputs["image"], inputs["sky"], **settings, composite=preview is not None)
    info |= {"replace_s": _since(mark), "sky_fraction": float(result.mask.mean())}
    if preview is not None:
        _send_preview(out, result.composite, preview["channels"], info)
        return
    layers = {"sky": result.sky, "alpha": result.alpha, "foreground": result.foreground}
    outputs = [_output(header, name, array) for name, array in layers.items()]
    _send(out, {"status": "ok", "outputs": outputs, "info": info}, *layers.values())


def run_enhance(header: dict, inputs: dict[str, np.ndarray], out: BinaryIO) -> None:
    """Answer an ``enhance`` request: the enhanced sky and where it applies, or with
    ``"preview"`` the enhanced photo.

    Outputs: ``sky`` (the photo with its sky enhanced, ``HxWx3``) and ``alpha`` (where the
    enhancement applies, ``HxW``); see :class:`skycore.enhance.SkyEnhancement`.
    """
    if "image" not in inputs:
        raise RequestError("an enhance request needs an input named 'image'")
    settings, info, preview, mark = _start(
        header, inputs, out, "enhance", "Finding and enhancing the sky"
    )
    result = enhance_sky(inputs["image"], **settings, composite=preview is not None)
    measured = result.measured
    info |= {
        "enhance_s": _since(mark),
        "sky_fraction": float(result.alpha.mean()),
        "noise": measured.noise,
        "cast": measured.cast,
        "night": measured.night,
    }
    if preview is not None:
        image = result.image if result.image.ndim == 3 else result.image[..., None]
        _send_preview(out, as_float_rgb(image), preview["channels"], info)
        return
    layers = {"sky": result.sky, "alpha": result.alpha}
    outputs = [_output(header, name, array) for name, array in layers.items()]
    _send(out, {"status": "ok", "outputs": outputs, "info": info}, *layers.values())


_RUNNERS = {"mask": run_mask, "replace": run_replace, "enhance": run_enhance}


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


def serve_daemon(path: Path, idle_s: float = IDLE_EXIT_S) -> int:
    """Answer requests on the Unix socket ``path`` until ``idle_s`` pass without one."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
    except OSError:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
            return 0  # another daemon got there first: the client talks to that one
        except OSError:
            path.unlink(missing_ok=True)  # left by a daemon that was killed
            server.bind(str(path))
        finally:
            probe.close()
    # Terminated, it still removes its socket (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    os.chmod(path, 0o600)
    inode = path.stat().st_ino
    server.listen(8)
    server.settimeout(idle_s)
    try:
        while True:
            try:
                connection, _ = server.accept()
            except TimeoutError:
                break
            connection.settimeout(None)
            # A client that hung up loses its reply, no more.
            with contextlib.suppress(OSError), connection:
                with connection.makefile("rb") as stdin, connection.makefile("wb") as stdout:
                    serve(stdin, stdout)
    finally:
        server.close()
        with contextlib.suppress(OSError):
            if path.stat().st_ino == inode:
                path.unlink()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m skycore.worker [--daemon SOCKET [--idle S]]``."""
    parser = argparse.ArgumentParser(prog="python -m skycore.worker")
    parser.add_argument("--daemon", type=Path, metavar="SOCKET")
    parser.add_argument("--idle", type=float, default=IDLE_EXIT_S, metavar="S")
    args = parser.parse_args(argv)
    # The reply owns file descriptor 1: anything else printing to stdout (a library, a C
    # extension) goes to stderr instead of corrupting it.
    reply = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    with reply:
        if args.daemon is not None:
            return serve_daemon(args.daemon, args.idle)
        return serve(sys.stdin.buffer, reply)


if __name__ == "__main__":
    sys.exit(main())
