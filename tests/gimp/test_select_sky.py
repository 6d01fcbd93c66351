"""plug-in-select-sky in a real GIMP 3, compared with skycore on the same pixels.

The cases run in one GIMP launch (select_sky_batch.py, via the select_sky_run fixture); each
test reads what a case dumped and recomputes the mask with skycore from the layer's pixels.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from harness import MODEL

import skycore
from skycore import maskops

#: "Equal to skycore" means within 1/255 on average (8-bit storage of the mask in GIMP).
TOLERANCE = 1 / 255

SUCCESS_CASES = {
    # name: (what the case dumped, options passed)
    "selection_replace": ("selection", {}),
    "selection_add": ("selection", {}),
    "selection_subtract": ("selection", {}),
    "selection_intersect": ("selection", {}),
    "channel_adjusted": ("channel", {"invert": True, "shift_edge": 6, "feather": 4.0}),
    "layer_mask": ("mask", {}),
    "layer_mask_replaced": ("mask", {"invert": True, "refine_edges": False}),
    "offset_selection": ("selection", {}),
    "offset_layer_mask": ("mask", {}),
    "gray8_channel": ("channel", {}),
    "rgba16_selection": ("selection", {}),
    "float32_layer_mask": ("mask", {}),
}


_masks: dict[tuple, np.ndarray] = {}


def expected_layer_mask(out, name, record, options):
    """What skycore gives for the pixels the plug-in sent, with the case's edge options.

    Several cases send the same pixels; their masks are computed once.
    """
    height, width, dtype = record["height"], record["width"], record["dtype"]
    data = (out / f"{name}.pixels").read_bytes()
    refine = options.get("refine_edges", True)
    key = (hashlib.sha256(data).hexdigest(), dtype, height, width, refine)
    if key not in _masks:
        pixels = np.frombuffer(data, dtype).reshape(height, width, 3)
        _masks[key] = skycore.sky_mask(pixels, model=str(MODEL), refine_edges=refine)
    return maskops.adjust_mask(
        _masks[key],
        shift_edge=options.get("shift_edge", 0),
        feather=options.get("feather", 0.0),
        invert=options.get("invert", False),
    )


def on_canvas(mask, record):
    """Place a layer-sized mask at the layer's offsets on an empty canvas, clipped."""
    canvas = np.zeros((record["canvas_height"], record["canvas_width"]), np.float32)
    x, y = record["offset_x"], record["offset_y"]
    top, left = max(y, 0), max(x, 0)
    bottom = min(y + mask.shape[0], canvas.shape[0])
    right = min(x + mask.shape[1], canvas.shape[1])
    canvas[top:bottom, left:right] = mask[top - y : bottom - y, left - x : right - x]
    return canvas


def rectangle(record, rect):
    canvas = np.zeros((record["canvas_height"], record["canvas_width"]), np.float32)
    x, y, w, h = rect
    canvas[y : y + h, x : x + w] = 1
    return canvas


def result_array(out, name, record, kind):
    if kind == "mask":
        shape = (record["height"], record["width"])
    else:
        shape = (record["canvas_height"], record["canvas_width"])
    return np.fromfile(out / f"{name}.result.f32", np.float32).reshape(shape)


@pytest.mark.parametrize("name", sorted(SUCCESS_CASES))
def test_case_matches_skycore_and_leaves_pixels_alone(select_sky_run, name):
    results, out = select_sky_run
    record = results[name]
    kind, options = SUCCESS_CASES[name]
    assert record["status"] == "success", record["message"]
    assert record["pixels_unchanged"], "the layer's pixels changed"
    assert record["layers_added"] == 0
    mask = expected_layer_mask(out, name, record, options)
    if kind == "selection":
        expected = on_canvas(mask, record)
        operation = name.removeprefix("selection_")
        if operation in ("add", "subtract", "intersect"):
            rect = rectangle(record, results["rectangle"])
            expected = {
                "add": np.maximum(rect, expected),
                "subtract": rect * (1 - expected),
                "intersect": rect * expected,
            }[operation]
    elif kind == "channel":
        expected = on_canvas(mask, record)
        new = [c for c in record["channels_after"] if c not in record["channels_before"]]
        assert new == ["Sky (inverted)" if options.get("invert") else "Sky"]
    else:
        expected = mask
        assert record["has_mask"]
    got = result_array(out, name, record, kind)
    error = float(np.abs(got - expected).mean())
    assert error <= TOLERANCE, f"{name}: mean |GIMP - skycore| = {error:.5f}"
    # The comparison must not be vacuous: these photos have sky and ground.
    assert 0.02 < expected.mean() < 0.98


def test_offset_layer_lands_aligned_and_clipped(select_sky_run):
    results, out = select_sky_run
    record = results["offset_selection"]
    assert (record["offset_x"], record["offset_y"]) == (-120, 150)
    assert record["offset_y"] + record["height"] > record["canvas_height"]
    selection = result_array(out, "offset_selection", record, "selection")
    # Nothing is selected outside the layer's rectangle (above it, or right of it).
    assert selection[: record["offset_y"]].max() == 0
    assert selection[:, record["offset_x"] + record["width"] :].max() == 0
    assert selection.max() > 0.9


def test_existing_layer_mask_is_refused_unless_replacing(select_sky_run):
    results, _ = select_sky_run
    refused = results["layer_mask_refused"]
    assert refused["status"] == "execution-error"
    assert "already has a layer mask" in refused["message"]
    assert refused["had_mask"] and refused["has_mask"] and refused["pixels_unchanged"]
    assert results["layer_mask_replaced"]["status"] == "success"


@pytest.mark.parametrize(
    ("name", "status", "words"),
    [
        ("indexed", "execution-error", "Convert this indexed image"),
        ("model_missing", "execution-error", "no default sky model is installed"),
        ("two_layers", "execution-error", "Select exactly one layer"),
    ],
)
def test_bad_cases_are_errors_with_a_message(select_sky_run, name, status, words):
    results, _ = select_sky_run
    assert results[name]["status"] == status
    assert words in results[name]["message"]
    assert "Traceback" not in results[name]["message"]


def test_no_image_is_refused_and_gimp_carries_on(select_sky_run):
    results, _ = select_sky_run
    assert results["no_image"]["status"] != "success"
    # The case after all the bad ones (float32_layer_mask) still succeeded.
    assert results["float32_layer_mask"]["status"] == "success"


def test_batch_one_liner_saved_xcf_files_with_the_sky_mask(select_sky_run):
    results, out = select_sky_run
    saved = {k: v for k, v in results.items() if k.startswith("xcf:")}
    assert sorted(saved) == ["xcf:kodak_kodim16.xcf", "xcf:wikimedia_036.xcf"]
    for key, record in saved.items():
        assert record["has_mask"], key
        name = "xcf-" + key.removeprefix("xcf:")
        expected = expected_layer_mask(out, name, record, {})
        got = result_array(out, name, record, "mask")
        assert float(np.abs(got - expected).mean()) <= TOLERANCE
