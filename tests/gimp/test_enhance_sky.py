"""plug-in-enhance-sky in a real GIMP 3: an editable "Sky Enhancement" group, untouched user
pixels, and a layer, mask and composite equal to skycore.enhance for the same pixels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from harness import MODEL, PHOTOS

import skycore
from skycore.enhance import enhance_sky

BATCH = Path(__file__).resolve().parent / "enhance_sky_batch.py"
#: A night photo with an orange sky (google/sky-optimization, Apache-2.0).
PHOTO = PHOTOS / "skyopt_200714_orig.jpg"
#: Layers are stored in the image's depth: within 1/255 on average.
TOLERANCE = 1 / 255


@pytest.fixture(scope="session")
def enhance_run(gimp) -> tuple[dict, Path]:
    out = gimp.work / "enhance-out"
    out.mkdir()
    env = {"SKY_TEST_OUT": str(out), "SKY_TEST_PHOTO": str(PHOTO)}
    done = gimp.batch(BATCH.read_text(), env=env)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-4000:]
    return json.loads((out / "enhance-results.json").read_text()), out


def load(out, name, height, width, channels=3):
    shape = (height, width, channels) if channels > 1 else (height, width)
    return np.fromfile(out / name, np.float32).reshape(shape)


@pytest.mark.parametrize("case", ["defaults", "options"])
def test_group_layer_and_composite_equal_skycore(enhance_run, case):
    results, out = enhance_run
    record = results[case]
    assert record["status"] == "success", record.get("message")
    structure = record["structure"]
    assert structure["name"] == "Sky Enhancement" and structure["opacity"] == 100.0
    (enhanced,) = structure["children"]
    assert enhanced["name"] == "Enhanced sky" and enhanced["has_mask"]
    assert enhanced["offsets"] == record["offsets"]
    assert enhanced["size"] == [record["width"], record["height"]]
    # The user's layer is still there, below the new group, with its pixels untouched.
    assert record["top_level_after"] == ["Sky Enhancement", *record["top_level_before"]]
    assert record["pixels_unchanged"]

    width, height = record["width"], record["height"]
    photo = np.fromfile(out / f"{case}.photo", record["dtype"]).reshape(height, width, 3)
    mask = skycore.sky_mask(photo, model=str(MODEL))
    expected = enhance_sky(photo, mask, **record["options"])
    layer = load(out, f"{case}.layer-sky.f32", height, width)
    alpha = load(out, f"{case}.layer-alpha.f32", height, width, 1)
    assert float(np.abs(layer - skycore.as_float_rgb(expected.sky)).mean()) <= TOLERANCE
    assert float(np.abs(alpha - expected.alpha).mean()) <= TOLERANCE
    canvas_width, canvas_height = record["canvas"]
    projection = load(out, f"{case}.projection.f32", canvas_height, canvas_width)
    x, y = record["offsets"]
    region = projection[y : y + height, x : x + width]
    composite = skycore.as_float_rgb(expected.image)
    assert float(np.abs(region - composite).mean()) <= TOLERANCE
    # Not vacuous: the orange night sky became bluer.
    sky = expected.alpha > 0.9
    before, after = skycore.as_float_rgb(photo)[sky], region[sky]
    assert (after[:, 2] - after[:, 0]).mean() > (before[:, 2] - before[:, 0]).mean() + 0.03
