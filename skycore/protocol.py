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

A worker answers one request and exits (``python -m skycore.worker``), or stays up and
answers one request per connection on a Unix socket (``--daemon``), so that the model is
loaded once and each call skips the start of Python and the libraries. :func:`call` is the
client: it connects to the user's daemon, starts one if there is none, and falls back to a
one-request worker where Unix sockets are missing (Windows) or the daemon cannot start.

Standard library only: the GIMP plug-in speaks it from GIMP's own Python.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
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


def request_header(
    task: str,
    inputs: list[dict],
    options: dict,
    *,
    preview: dict | None = None,
    output_dtypes: dict[str, str] | None = None,
) -> bytes:
    """The request line (JSON and a newline) for ``task`` with these input buffers.

    ``preview`` (``{"channels": C}``) asks for the picture to show at the input's size
    instead of the task's outputs: one uint8 output ``preview`` with ``C`` channels (1 gray,
    2 gray and alpha, 3 RGB, 4 RGBA), the mask tinted over the photo or the replaced sky.
    ``output_dtypes`` (``{output name: dtype}``) asks for outputs in another type than
    float32: an 8-bit image needs no more than uint8 layers, a mask no more than uint16, and
    fewer bytes cross the pipe.
    """
    message = {"protocol": PROTOCOL, "task": task, "inputs": inputs, "options": options}
    if preview is not None:
        message["preview"] = preview
    if output_dtypes:
        message["output_dtypes"] = output_dtypes
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


#: A daemon exits after this many seconds without a request.
IDLE_EXIT_S = 600.0
#: How long a client waits for a daemon it started to listen.
START_TIMEOUT_S = 60.0


def daemon_socket(python: str, model_dir: str, generation: str = "") -> Path | None:
    """The Unix socket of this user's daemon for this environment, model folder and
    ``generation`` (say, the install's time: a daemon of an older install, still running the
    code it loaded, is not asked), in a folder only the user can enter; None where Unix
    sockets are missing."""
    if not hasattr(socket, "AF_UNIX") or not hasattr(os, "getuid"):
        return None
    folder = Path(tempfile.gettempdir()) / f"skycore-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise RequestError(f"{folder} is not private to this user; remove it and try again")
    key = hashlib.sha256(f"{python}\0{model_dir}\0{generation}".encode()).hexdigest()[:16]
    return folder / f"worker-{key}.sock"


def _connect(path: Path) -> socket.socket | None:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(str(path))
    except OSError:
        client.close()
        return None
    return client


def _start_daemon(python: str, path: Path, env: dict, log: Path) -> socket.socket | None:
    """Start a daemon on ``path`` and wait until it listens; its connection, or None."""
    with open(log, "ab") as stderr:
        subprocess.Popen(
            [python, "-I", "-m", "skycore.worker", "--daemon", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
            cwd=str(path.parent),
            start_new_session=True,  # it outlives the caller, as a daemon does
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        client = _connect(path)
        if client is not None:
            return client
        time.sleep(0.05)
    return None


def _exchange(stream_in: BinaryIO, stream_out: BinaryIO, header: bytes, buffers, on_progress):
    try:
        stream_out.write(header)
        for buffer in buffers:
            stream_out.write(buffer)
        stream_out.flush()
    except (BrokenPipeError, ConnectionError):
        pass  # the worker died early: read_reply says so
    return read_reply(stream_in, on_progress)


def call(
    python: str,
    task: str,
    inputs: list[dict],
    options: dict,
    buffers: list,
    *,
    env: dict | None = None,
    model_dir: str = "",
    generation: str = "",
    on_progress: Callable[[float, str], None] | None = None,
    daemon: bool = True,
    preview: dict | None = None,
    output_dtypes: dict[str, str] | None = None,
) -> tuple[dict, dict[str, bytes]]:
    """Run one request in a skycore worker of the environment of ``python``; the result line
    and the output buffers, as :func:`read_reply` gives them.

    With ``daemon`` (and Unix sockets), the user's daemon for this environment, model
    folder and ``generation`` (see :func:`daemon_socket`) answers, started here if it is not
    running (or died); otherwise a worker process is started for this one request.
    ``preview`` and ``output_dtypes`` are those of :func:`request_header`.

    Raises
    ------
    ReplyError
        As :func:`read_reply`.
    """
    env = dict(os.environ if env is None else env)
    header = request_header(task, inputs, options, preview=preview, output_dtypes=output_dtypes)
    path = daemon_socket(python, model_dir, generation) if daemon else None
    if path is not None:
        client = _connect(path)
        if client is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # a daemon that died leaves its socket behind
            client = _start_daemon(python, path, env, path.with_suffix(".log"))
        if client is not None:
            with client, client.makefile("rb") as stream_in, client.makefile("wb") as out:
                return _exchange(stream_in, out, header, buffers, on_progress)
    with tempfile.TemporaryFile() as log:
        worker = subprocess.Popen(
            [python, "-I", "-m", "skycore.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
        try:
            with worker.stdout:
                return _exchange(worker.stdout, worker.stdin, header, buffers, on_progress)
        except ReplyError as exc:
            if exc.kind is not None:
                raise
            worker.wait()
            log.seek(0)
            lines = log.read().decode("utf-8", "replace").strip().splitlines()
            last = lines[-1] if lines else "no message"
            raise ReplyError(f"{exc} (exit status {worker.returncode}): {last}") from None
        finally:
            with contextlib.suppress(OSError):
                worker.stdin.close()
            worker.wait()
