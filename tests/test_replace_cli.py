"""End-to-end tests of ``skycore replace`` on real photos and skies from ``../shared``."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from skycore import read_image, sky_mask, write_mask

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PHOTOS = SHARED / "data" / "photos"
SKY = SHARED / "data" / "skies" / "skyar_sunset.jpg"
U2NETP = SHARED / "models" / "skyseg-u2netp.onnx"
WITH_SKY = ("wikimedia_036.jpg", "kodak_kodim09.jpg")
WITHOUT_SKY = "wikimedia_002.jpg"


def sunset_share(path: Path, rows: slice) -> float:
    """How much redder than blue the given rows of an image are (R - B, 0..255)."""
    image = cv2.imread(str(path))[rows].astype(np.float32)
    return float(image[..., 2].mean() - image[..., 0].mean())


def test_one_photo(tmp_path, cli):
    photo = PHOTOS / WITH_SKY[0]
    out = tmp_path / "result.jpg"
    status, stdout, err = cli(
        "replace", photo, "--sky", SKY, "-o", out, "--model", U2NETP, "--save-mask"
    )
    assert status == 0, err
    assert stdout == f"{out} and {tmp_path / 'result_mask.png'} written\n"
    result = cv2.imread(str(out))
    original = cv2.imread(str(photo))
    assert result.shape == original.shape
    top = slice(0, original.shape[0] // 10)
    # The blue Reykjavik sky became a red sunset at the top; the town below stays.
    assert sunset_share(photo, top) < 0 < sunset_share(out, top) - 20
    bottom = slice(-original.shape[0] // 3, None)
    assert np.abs(result[bottom].astype(int) - original[bottom]).mean() < 25
    mask = cv2.imread(str(tmp_path / "result_mask.png"), cv2.IMREAD_UNCHANGED)
    assert mask.shape == original.shape[:2] and mask[top].mean() > 200


def test_options_reach_the_result(tmp_path, cli):
    photo = PHOTOS / WITH_SKY[0]
    mask_file = tmp_path / "mask.png"
    write_mask(mask_file, sky_mask(read_image(photo), model=U2NETP))
    outputs = {}
    for name, extra in {
        "plain": ["--amount", "0", "--lighting", "0"],
        "flip": ["--amount", "0", "--lighting", "0", "--flip"],
        "bright": ["--amount", "0", "--lighting", "0", "--brightness", "1"],
    }.items():
        outputs[name] = tmp_path / f"{name}.png"
        status, _, err = cli(
            "replace", photo, "--sky", SKY, "--mask", mask_file, "-o", outputs[name], *extra
        )
        assert status == 0, err
    plain, flip, bright = (cv2.imread(str(outputs[k])).astype(int) for k in outputs)
    top = slice(0, plain.shape[0] // 10)
    bottom = slice(-plain.shape[0] // 3, None)
    assert np.abs(flip[top] - plain[top]).mean() > 10
    assert np.abs(flip[bottom] - plain[bottom]).max() == 0  # the town is not flipped
    assert bright[bottom].mean() > plain[bottom].mean() + 15
    assert np.abs(bright[top] - plain[top]).mean() < 2


def test_folder_run_reports_failures_and_resumes(tmp_path, cli):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in (*WITH_SKY, WITHOUT_SKY):
        shutil.copy(PHOTOS / name, folder / name)
    out = tmp_path / "out"
    status, stdout, err = cli(
        "replace", folder, "--sky", SKY, "-o", out, "--model", U2NETP, "--format", "png"
    )
    assert status == 1
    assert "2 result(s) written" in stdout
    assert WITHOUT_SKY in err and "no sky found" in err
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{Path(n).stem}.png" for n in WITH_SKY)
    written = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    status, stdout, _ = cli(
        "replace", folder, "--sky", SKY, "-o", out, "--model", U2NETP, "--format", "png"
    )
    assert status == 1  # the photo without sky still fails
    assert "2 skipped because they exist" in stdout
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == written


def test_folder_run_with_mask_folder(tmp_path, cli):
    folder, masks, out = tmp_path / "photos", tmp_path / "masks", tmp_path / "out"
    folder.mkdir()
    masks.mkdir()
    name = WITH_SKY[1]
    shutil.copy(PHOTOS / name, folder / name)
    write_mask(masks / f"{Path(name).stem}.png", sky_mask(read_image(PHOTOS / name), model=U2NETP))
    status, _, err = cli("replace", folder, "--sky", SKY, "-o", out, "--mask", masks)
    assert status == 0, err
    assert (out / f"{Path(name).stem}.jpg").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sky", "missing.jpg"], "missing.jpg: no such file"),
        (["--sky", SKY, "--scale", "20"], "scale must be in [0.25, 8], got 20"),
        (["--sky", SKY, "--mask", PHOTOS], "is a folder"),
    ],
)
def test_bad_arguments_give_one_line(tmp_path, cli, args, message):
    status, _, err = cli("replace", PHOTOS / WITH_SKY[0], "-o", tmp_path / "r.jpg", *args)
    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "r.jpg").exists()


def test_refuses_to_overwrite_its_input(tmp_path, cli):
    photo = tmp_path / "photo.jpg"
    shutil.copy(PHOTOS / WITH_SKY[0], photo)
    before = photo.read_bytes()
    status, _, err = cli("replace", photo, "--sky", SKY, "-o", photo, "--model", U2NETP)
    assert status == 2 and "is an input file" in err
    assert photo.read_bytes() == before


def test_photo_without_sky_fails_clearly(tmp_path, cli):
    status, _, err = cli(
        "replace",
        PHOTOS / WITHOUT_SKY,
        "--sky",
        SKY,
        "-o",
        tmp_path / "r.jpg",
        "--model",
        U2NETP,
    )
    assert status == 2
    assert "no sky found in the photo" in err


def test_sixteen_bit_photo_stays_sixteen_bit(tmp_path, cli):
    photo8 = cv2.imread(str(PHOTOS / WITH_SKY[0]))
    photo16 = tmp_path / "photo16.png"
    cv2.imwrite(str(photo16), photo8.astype(np.uint16) * 257)
    out = tmp_path / "result.tif"
    status, _, err = cli("replace", photo16, "--sky", SKY, "-o", out, "--model", U2NETP)
    assert status == 0, err
    result = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert result.dtype == np.uint16 and result.shape == photo8.shape
    bottom = slice(-photo8.shape[0] // 3, None)
    # Fine steps survive: far more distinct levels than an 8-bit result could hold.
    assert len(np.unique(result[bottom])) > 256
