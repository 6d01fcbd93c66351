"""plug-in-replace-sky in a real GIMP 3: the editable layer stack, untouched user pixels, and
layers (and their composite) equal to skycore.replace for the same pixels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from harness import MODEL, PHOTOS, REPO, SHARED

import skycore
from skycore import replace_sky

BATCH = Path(__file__).resolve().parent / "replace_sky_batch.py"
#: Layers are stored at the image's 8 bits: within 1/255 on average.
TOLERANCE = 1 / 255


@pytest.fixture(scope="session")
def replace_run(gimp) -> tuple[dict, Path]:
    out = gimp.work / "replace-out"
    out.mkdir()
    done = gimp.batch(
        BATCH.read_text(),
        env={
            "SKY_TEST_OUT": str(out),
            "SKY_TEST_PHOTOS": str(PHOTOS),
            "SKY_TEST_SKIES": str(SHARED / "data" / "skies"),
        },
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-4000:]
    return json.loads((out / "replace-results.json").read_text()), out


def load(out, name, height, width, channels=3):
    shape = (height, width, channels) if channels > 1 else (height, width)
    return np.fromfile(out / name, np.float32).reshape(shape)


def names(record):
    return [record["name"], [names(c) for c in record.get("children", [])]]


@pytest.mark.parametrize("case", ["from_file", "from_layer"])
def test_layer_structure_and_untouched_pixels(replace_run, case):
    results, _ = replace_run
    record = results[case]
    assert record["status"] == "success", record.get("message")
    structure = record["structure"]
    assert record["returned"] == "Sky Replacement"
    assert names(structure) == [
        "Sky Replacement",
        [["Foreground", [["Foreground adjustment", []], ["Original", []]]], ["Sky", []]],
    ]
    foreground, sky = structure["children"]
    adjustment, original = foreground["children"]
    assert adjustment["composite_mode"] == "clip-to-backdrop"
    assert original["has_mask"] and not adjustment["has_mask"] and not sky["has_mask"]
    for item in (structure, foreground, adjustment, original, sky):
        assert item["composite_space"] == "rgb-perceptual"
    for item in (adjustment, original, sky):
        assert item["offsets"] == record["offsets"]
        assert item["size"] == [record["width"], record["height"]]
    # The user's layer is still there, below the new group, with its pixels untouched.
    assert record["top_level_after"] == ["Sky Replacement", *record["top_level_before"]]
    assert record["pixels_unchanged"] and record["original_equals_layer"]


@pytest.mark.parametrize(
    ("case", "sky_dump", "sky_size_key", "options"),
    [
        ("from_file", "file.sky.f32", "file_sky_size", {}),
        ("from_layer", "layer.sky.f32", "layer_sky_size",
         {"flip": True, "amount": 0.8, "feather": 3.0}),
    ],
)  # fmt: skip
def test_layers_and_composite_equal_skycore(replace_run, case, sky_dump, sky_size_key, options):
    results, out = replace_run
    record = results[case]
    width, height = record["width"], record["height"]
    photo = np.fromfile(out / f"{case}.photo", record["dtype"]).reshape(height, width, 3)
    sky_width, sky_height = results[sky_size_key]
    sky = load(out, sky_dump, sky_height, sky_width)
    mask = skycore.sky_mask(photo, model=str(MODEL))
    expected = replace_sky(photo, sky, mask, **options)
    got = {
        "sky": load(out, f"{case}.layer-sky.f32", height, width),
        "alpha": load(out, f"{case}.layer-alpha.f32", height, width, 1),
        "foreground": load(out, f"{case}.layer-foreground.f32", height, width),
    }
    for name, layer in got.items():
        error = float(np.abs(layer - getattr(expected, name)).mean())
        assert error <= TOLERANCE, f"{case} {name}: mean |GIMP - skycore| = {error:.5f}"
    canvas_width, canvas_height = record["canvas"]
    projection = load(out, f"{case}.projection.f32", canvas_height, canvas_width)
    x, y = record["offsets"]
    region = projection[y : y + height, x : x + width]
    error = float(np.abs(region - expected.composite).mean())
    assert error <= TOLERANCE, f"{case}: the image shows {error:.5f} off skycore's composite"
    # Not vacuous: the new sky differs from the old one where the sky was.
    assert float(np.abs(expected.composite - skycore.as_float_rgb(photo)).mean()) > 10 * TOLERANCE


def test_the_defaults_replace_the_sky_with_the_first_gallery_sky(replace_run):
    """install.py copied the bundled skies into the sky folder: the dialog offers them by
    name, then a file or a layer, and OK with the defaults works."""
    results, _ = replace_run
    nicks, default = results["sky_choices"]
    bundled = sorted(p.stem for p in (REPO / "skies").glob("*.jpg"))
    assert nicks == [f"sky-{name.replace('_', '-')}" for name in bundled] + ["file", "layer"]
    assert default == nicks[0]
    assert results["defaults"]["status"] == "success", results["defaults"].get("message")
    assert results["defaults"]["returned"] == "Sky Replacement"


def test_replace_bad_cases_are_clear_errors(replace_run):
    results, _ = replace_run
    assert results["no_sky_chosen"]["status"] == "execution-error"
    assert results["no_sky_chosen"]["message"].startswith("Choose the image file of the new sky")
    assert results["photo_without_sky"]["status"] == "execution-error"
    assert "no sky found in the photo" in results["photo_without_sky"]["message"]
