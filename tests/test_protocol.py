"""Tests of skycore.protocol, the worker protocol both ends share, against the real worker."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skycore import protocol, select_sky

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MODEL = SHARED / "models" / "skyseg-u2netp.onnx"


def test_a_request_made_by_the_client_half_is_answered_by_the_worker():
    rng = np.random.default_rng(0)
    image = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    image[:20] = (120, 170, 230)  # a blue band of sky on top
    inputs = [protocol.buffer_spec("image", 64, 48, 3, "uint8")]
    settings = {"model": str(MODEL), "feather": 2.0}
    payload = protocol.request_header("mask", inputs, settings) + image.tobytes()
    done = subprocess.run(
        [sys.executable, "-m", "skycore.worker"], input=payload, capture_output=True, timeout=120
    )
    progress = []
    result, outputs = protocol.read_reply(
        io.BytesIO(done.stdout), lambda f, m: progress.append((f, m))
    )
    assert result["status"] == "ok" and progress and progress[0][0] < progress[-1][0]
    assert result["outputs"] == [protocol.buffer_spec("mask", 64, 48, 1, "float32")]
    mask = np.frombuffer(outputs["mask"], "<f4").reshape(48, 64)
    np.testing.assert_allclose(mask, select_sky(image, model=str(MODEL), feather=2.0), atol=1e-6)
    # The same mask as 16-bit, as the plug-in asks for it: half the bytes, 1/65535 steps.
    header = protocol.request_header("mask", inputs, settings, output_dtypes={"mask": "uint16"})
    done = subprocess.run(
        [sys.executable, "-m", "skycore.worker"],
        input=header + image.tobytes(),
        capture_output=True,
        timeout=120,
    )
    result, outputs = protocol.read_reply(io.BytesIO(done.stdout))
    assert result["outputs"][0]["dtype"] == "uint16"
    mask16 = np.frombuffer(outputs["mask"], "<u2").reshape(48, 64) / 65535
    np.testing.assert_allclose(mask16, mask, atol=0.6 / 65535)


def test_errors_and_broken_replies_are_told_apart():
    error = b'{"status": "error", "kind": "ModelError", "message": "no model"}\n'
    with pytest.raises(protocol.ReplyError, match="no model") as caught:
        protocol.read_reply(io.BytesIO(error))
    assert caught.value.kind == "ModelError"
    truncated = (
        b'{"status": "ok", "outputs": [{"name": "mask", "width": 4, "height": 4, '
        b'"channels": 1, "dtype": "float32"}]}\n' + bytes(10)
    )
    with pytest.raises(protocol.ReplyError, match="truncated mask") as caught:
        protocol.read_reply(io.BytesIO(truncated))
    assert caught.value.kind is None
    with pytest.raises(protocol.ReplyError, match="without an answer"):
        protocol.read_reply(io.BytesIO(b"Traceback (most recent call last):\n"))


def test_request_headers_are_checked():
    header = protocol.request_header("mask", [protocol.buffer_spec("image", 2, 2, 3, "uint8")], {})
    assert protocol.parse_request_header(header, ("mask",))["inputs"][0]["dtype"] == "uint8"
    for line, message in [
        (b"hello", "not JSON"),
        (b'{"protocol": 2}', "expected protocol 1"),
        (b'{"protocol": 1, "task": "paint"}', "unknown task"),
        (b'{"protocol": 1, "task": "mask", "inputs": [{"name": "image"}]}', "bad input"),
        (
            b'{"protocol": 1, "task": "mask", "inputs": [{"name": "i", "width": 0, '
            b'"height": 2, "channels": 3}]}',
            "bad size",
        ),
    ]:
        with pytest.raises(protocol.RequestError, match=message):
            protocol.parse_request_header(line, ("mask",))
    assert protocol.buffer_bytes(protocol.buffer_spec("x", 3, 2, 3, "uint16")) == 36
