"""Tests of the out-of-process worker (``python -m skycore.worker``) on real photos."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import skycore
from skycore import maskops

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PHOTOS = SHARED / "data" / "photos"
MODEL = SHARED / "models" / "skyseg-u2netp.onnx"
SKY_NAME = SHARED / "data" / "skies" / "kirainmoe_cumulus_blue.jpg"  # absolute: PHOTOS / it = it


def small_photo(name, width=320):
    image = skycore.as_float_rgb(skycore.read_image(PHOTOS / name))
    height = round(image.shape[0] * width / image.shape[1])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def call_worker(header, *buffers, raw=None):
    """Run one worker process; returns (progress lines, result header, output arrays)."""
    payload = (
        raw
        if raw is not None
        else json.dumps(header).encode()
        + b"\n"
        + b"".join(np.ascontiguousarray(b, dtype="<f4").tobytes() for b in buffers)
    )
    done = subprocess.run(
        [sys.executable, "-m", "skycore.worker"], input=payload, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    stream = done.stdout
    progress = []
    while True:
        line, stream = stream.split(b"\n", 1)
        message = json.loads(line)
        if "status" in message:
            break
        progress.append(message)
    outputs = {}
    for spec in message.get("outputs", []):
        size = spec["width"] * spec["height"] * spec["channels"] * 4
        shape = (spec["height"], spec["width"], spec["channels"])
        outputs[spec["name"]] = np.frombuffer(stream[:size], "<f4").reshape(shape)
        if spec["channels"] == 1:
            outputs[spec["name"]] = outputs[spec["name"]][:, :, 0]
        stream = stream[size:]
    assert stream == b"", "the reply has bytes after its last output"
    return progress, message, outputs


def mask_request(image, **options):
    height, width, channels = image.shape
    return {
        "protocol": 1,
        "task": "mask",
        "inputs": [{"name": "image", "width": width, "height": height, "channels": channels}],
        "options": {"model": str(MODEL), **options},
    }


def test_worker_mask_equals_skycore_for_the_same_pixels():
    image = small_photo("kodak_kodim16.jpg")
    options = {"shift_edge": 3, "feather": 5, "invert": True}
    progress, result, outputs = call_worker(mask_request(image, **options), image)
    assert result["status"] == "ok", result
    assert [p["progress"] for p in progress] == sorted(p["progress"] for p in progress)
    expected = maskops.adjust_mask(
        skycore.sky_mask(image, model=str(MODEL)), shift_edge=3, feather=5, invert=True
    )
    mask = outputs["mask"]
    assert mask.shape == image.shape[:2]
    np.testing.assert_allclose(mask, expected, atol=1e-5)
    assert result["info"]["model"] == "u2netp"
    assert result["info"]["sky_fraction"] == pytest.approx(float(expected.mean()), abs=1e-5)
    # kodim16 is a seascape, about half sky; the mask is inverted
    assert 0.3 < result["info"]["sky_fraction"] < 0.7


def test_worker_accepts_rgba_and_gray_inputs_and_unrefined_mode():
    image = small_photo("skyopt_001412_orig.jpg")
    alpha = np.full(image.shape[:2] + (1,), 0.5, np.float32)
    rgba = np.concatenate([image, alpha], axis=2)
    _, result, outputs = call_worker(mask_request(rgba, refine_edges=False), rgba)
    assert result["status"] == "ok", result
    expected = skycore.sky_mask(image, model=str(MODEL), refine_edges=False)
    np.testing.assert_allclose(outputs["mask"], expected, atol=1e-5)
    assert expected.mean() > 0.1, "this photo has a strip of sky"
    gray = image.mean(axis=2, keepdims=True)
    _, result, outputs = call_worker(mask_request(gray), gray)
    assert result["status"] == "ok", result
    np.testing.assert_allclose(
        outputs["mask"], skycore.sky_mask(gray[:, :, 0], model=str(MODEL)), atol=1e-5
    )


def test_worker_reports_missing_model_as_model_error(tmp_path):
    image = small_photo("kodak_kodim01.jpg", width=64)
    header = mask_request(image)
    header["options"]["model"] = str(tmp_path / "gone.onnx")
    _, result, outputs = call_worker(header, image)
    assert result == {
        "status": "error",
        "kind": "ModelError",
        "message": f"model file not found: {tmp_path / 'gone.onnx'}",
    }
    assert outputs == {}


def test_worker_reports_truncated_pixels_and_bad_requests():
    image = small_photo("kodak_kodim01.jpg", width=64)
    header = mask_request(image)
    payload = json.dumps(header).encode() + b"\n" + image.tobytes()[:-8]
    _, result, _ = call_worker(None, raw=payload)
    assert result["kind"] == "ImageError"
    assert result["message"].startswith("the pixel data ended early")
    _, result, _ = call_worker(None, raw=b"hello\n")
    assert result["kind"] == "RequestError"
    header["options"]["sharpen"] = 1
    _, result, _ = call_worker(header, image)
    assert (result["kind"], result["message"]) == ("RequestError", "unknown option(s) sharpen")


@pytest.mark.parametrize(("dtype", "scale"), [("uint8", 255), ("uint16", 65535)])
def test_worker_accepts_integer_pixels(dtype, scale):
    image = np.round(small_photo("wikimedia_036.jpg", width=200) * scale).astype(dtype)
    header = mask_request(image)
    header["inputs"][0]["dtype"] = dtype
    payload = (
        json.dumps(header).encode() + b"\n" + image.astype("<" + image.dtype.str[1:]).tobytes()
    )
    _, result, outputs = call_worker(None, raw=payload)
    assert result["status"] == "ok", result
    np.testing.assert_allclose(
        outputs["mask"], skycore.sky_mask(image, model=str(MODEL)), atol=1e-5
    )
    assert 0.05 < outputs["mask"].mean() < 0.95


def test_worker_replace_returns_the_layers_of_replace_sky():
    from skycore import replace_sky

    photo = small_photo("wikimedia_036.jpg", width=240)
    sky = small_photo(SKY_NAME, width=200)
    height, width, _ = photo.shape
    header = {
        "protocol": 1,
        "task": "replace",
        "inputs": [
            {"name": "image", "width": width, "height": height, "channels": 3},
            {"name": "sky", "width": sky.shape[1], "height": sky.shape[0], "channels": 3},
        ],
        "options": {"model": str(MODEL), "amount": 0.8, "flip": True, "feather": 3.0},
    }
    progress, result, outputs = call_worker(header, photo, sky)
    assert result["status"] == "ok", result
    assert progress[-1]["message"] == "Finding the sky and placing the new one"
    mask = skycore.sky_mask(photo, model=str(MODEL))
    expected = replace_sky(photo, sky, mask, amount=0.8, flip=True, feather=3.0)
    for name in ("sky", "alpha", "foreground"):
        np.testing.assert_allclose(outputs[name], getattr(expected, name), atol=1e-5)
    assert 0.05 < result["info"]["sky_fraction"] < 0.95


def test_worker_replace_reports_bad_options_and_missing_sky():
    photo = small_photo("wikimedia_036.jpg", width=120)
    header = mask_request(photo)
    header["task"] = "replace"
    header["options"]["scale"] = 100.0
    sky = small_photo(SKY_NAME, width=120)
    header["inputs"].append(
        {"name": "sky", "width": sky.shape[1], "height": sky.shape[0], "channels": 3}
    )
    _, result, _ = call_worker(header, photo, sky)
    assert result["kind"] == "RequestError" and "scale" in result["message"]
    header["inputs"].pop()
    _, result, _ = call_worker(header, photo)
    assert result["message"] == "a replace request needs inputs named 'image' and 'sky'"


def test_worker_enhance_returns_the_layers_of_enhance_sky():
    from skycore.enhance import enhance_sky

    photo = small_photo("skyopt_200714_orig.jpg", width=300)
    height, width, _ = photo.shape
    header = mask_request(photo, white_balance=0.5, feather=2.0)
    header["task"] = "enhance"
    progress, result, outputs = call_worker(header, photo)
    assert result["status"] == "ok", result
    assert progress[-1]["message"] == "Finding and enhancing the sky"
    mask = skycore.sky_mask(photo, model=str(MODEL))
    expected = enhance_sky(photo, mask, white_balance=0.5, feather=2.0)
    for name in ("sky", "alpha"):
        np.testing.assert_allclose(outputs[name], getattr(expected, name), atol=1e-5)
    assert result["info"]["cast"] == list(expected.measured.cast)
    assert result["info"]["night"] == 1.0


def _daemon_pids(path):
    """Pids of worker daemons serving ``path``."""
    done = subprocess.run(["pgrep", "-f", f"skycore.worker --daemon {path}"], capture_output=True)
    return [int(p) for p in done.stdout.split()]


def test_the_daemon_serves_calls_restarts_after_a_kill_and_exits_when_idle(tmp_path):
    """The worker that stays up between GIMP calls: started by the first call, the model
    loaded once, started again after it was killed, gone after its idle time."""
    import os
    import signal
    import time
    from concurrent.futures import ThreadPoolExecutor

    from skycore import protocol

    image = np.round(small_photo("kodak_kodim16.jpg", width=160) * 255).astype(np.uint8)
    height, width, _ = image.shape
    inputs = [protocol.buffer_spec("image", width, height, 3, "uint8")]
    model_dir = str(tmp_path)  # a key of its own: no other test's daemon answers

    def call():
        return protocol.call(
            sys.executable, "mask", inputs, {"model": str(MODEL)}, [image.tobytes()],
            model_dir=model_dir,
        )  # fmt: skip

    path = protocol.daemon_socket(sys.executable, model_dir)
    first, outputs = call()
    (pid,) = _daemon_pids(path)
    second, again = call()
    assert second["info"]["model_load_s"] < first["info"]["model_load_s"]
    assert again == outputs and _daemon_pids(path) == [pid]
    # Two GIMPs of one user at once: both answered, by the one daemon.
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: call(), range(2)))
    assert all(r[1] == outputs for r in results) and _daemon_pids(path) == [pid]
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    assert call()[1] == outputs
    (restarted,) = _daemon_pids(path)
    assert restarted != pid
    os.kill(restarted, signal.SIGTERM)
    # A daemon started with a short idle time exits by itself and removes its socket.
    idle = subprocess.Popen(
        [sys.executable, "-m", "skycore.worker", "--daemon", str(path), "--idle", "1"]
    )
    assert idle.wait(timeout=60) == 0
    assert not path.exists()
