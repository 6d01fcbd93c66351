"""End-to-end tests of ``skycore enhance`` on real night photos."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PHOTOS = SHARED / "data" / "photos"
U2NETP = SHARED / "models" / "skyseg-u2netp.onnx"
#: Night photos with an orange glow in the sky (google/sky-optimization, Apache-2.0).
NIGHT = (PHOTOS / "skyopt_200714_orig.jpg", PHOTOS / "skyopt_195520_orig_crop.jpg")


def _sky_and_ground(photo: Path, result: Path) -> tuple[np.ndarray, np.ndarray]:
    before = cv2.imread(str(photo)).astype(np.float64)
    after = cv2.imread(str(result)).astype(np.float64)
    assert before.shape == after.shape
    return before, after


def test_enhance_batch_reports_failures_and_resumes(tmp_path, cli):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    out_dir = tmp_path / "enhanced"
    status, out, err = cli(
        "enhance", NIGHT[0], bad, NIGHT[1], "-o", out_dir, "--model", U2NETP,
        "--format", "png",
    )  # fmt: skip
    assert status == 1
    assert "2 result(s) written" in out
    assert err.splitlines() == [
        "skycore: 1 of 3 photo(s) failed:",
        f"  {bad}: not an image, or the file is corrupt or truncated",
    ]
    for photo in NIGHT:
        before, after = _sky_and_ground(photo, out_dir / f"{photo.stem}.png")
        top, bottom = slice(0, before.shape[0] // 6), slice(-before.shape[0] // 4, None)
        # The orange sky comes out bluer (BGR: blue minus red grows); the road is untouched.
        gain = (after[top, :, 0] - after[top, :, 2]).mean() - (
            before[top, :, 0] - before[top, :, 2]
        ).mean()
        assert gain > 10
        assert np.abs(after[bottom] - before[bottom]).mean() < 0.5

    first = out_dir / f"{NIGHT[0].stem}.png"
    os.utime(first, ns=(10**9, 10**9))
    status, out, err = cli("enhance", *NIGHT, "-o", out_dir, "--format", "png")
    assert (status, err) == (0, "")
    assert "0 result(s) written" in out and "2 skipped" in out
    assert first.stat().st_mtime_ns == 10**9


def test_enhance_reuses_a_mask_and_options_scale_the_corrections(tmp_path, cli):
    masks = tmp_path / "masks"
    status, _, _ = cli("mask", NIGHT[0], "-o", masks, "--model", U2NETP)
    assert status == 0
    # With every correction at 0 the photo comes back as it was (PNG: no JPEG loss).
    status, out, _ = cli(
        "enhance", NIGHT[0], "-o", tmp_path / "off", "--mask", masks, "--format", "png",
        "--denoise", "0", "--white-balance", "0", "--brightness", "0", "--contrast", "0",
    )  # fmt: skip
    assert status == 0, out
    before, after = _sky_and_ground(NIGHT[0], tmp_path / "off" / f"{NIGHT[0].stem}.png")
    np.testing.assert_array_equal(after, before)
    status, _, err = cli("enhance", NIGHT[0], "-o", tmp_path, "--denoise", "3")
    assert status == 2 and "denoise" in err
    status, _, err = cli("enhance", *NIGHT, "-o", tmp_path, "--mask", masks / "x.png")
    assert status == 2 and "does not exist" in err
