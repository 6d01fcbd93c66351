"""End-to-end tests of the ``skycore`` command line on real photos."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PHOTOS = SHARED / "data" / "photos"
SEED_EVAL = SHARED / "data" / "seed-eval"
U2NETP = SHARED / "models" / "skyseg-u2netp.onnx"

REPO = Path(__file__).resolve().parents[1]
GOOD = (PHOTOS / "wikimedia_010.jpg", PHOTOS / "wikimedia_036.jpg")


def _model_rows(out: str) -> dict[str, str]:
    """Rows of the ``skycore models`` table by model id."""
    rows = {}
    for line in out.splitlines():
        cells = line.split()
        if any(cell.endswith(".onnx") for cell in cells):
            rows[cells[1] if cells[0] == "*" else cells[0]] = line
    return rows


def _check_sky_mask(path: Path, photo: Path, bits: int = 8) -> None:
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    height, width = cv2.imread(str(photo)).shape[:2]
    assert mask.dtype == (np.uint8 if bits == 8 else np.uint16)
    assert mask.shape == (height, width)
    full = 2**bits - 1
    assert mask[: height // 20].mean() > 0.9 * full  # sky on top
    assert mask[-height // 2 :].mean() < 0.05 * full  # none in the lower half


def test_version_without_onnxruntime():
    code = (
        "import sys\nfrom skycore.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit as exc:\n    assert exc.code == 0\n"
        "print('onnxruntime' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.splitlines() == ["skycore 0.1.0", "False"]


def test_help_lists_subcommands(cli):
    status, out, _ = cli("--help")
    assert status == 0
    for name in ("mask", "refine", "replace", "enhance", "models"):
        assert f"    {name} " in out


def test_mask_batch_keeps_going_reports_and_resumes(tmp_path, cli):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    empty = tmp_path / "empty.png"
    empty.touch()
    out_dir = tmp_path / "masks"

    status, out, err = cli("mask", GOOD[0], bad, empty, GOOD[1], "-o", out_dir, "--model", U2NETP)
    assert status == 1
    assert "2 mask(s) written" in out
    assert err.splitlines() == [
        "skycore: 2 of 4 photo(s) failed:",
        f"  {bad}: not an image, or the file is corrupt or truncated",
        f"  {empty}: file is empty",
    ]
    assert sorted(p.name for p in out_dir.iterdir()) == ["wikimedia_010.png", "wikimedia_036.png"]
    for photo in GOOD:
        _check_sky_mask(out_dir / f"{photo.stem}.png", photo)

    # Existing masks are kept unless --overwrite.
    first = out_dir / "wikimedia_010.png"
    os.utime(first, ns=(10**9, 10**9))
    status, out, err = cli("mask", *GOOD, "-o", out_dir, "--model", U2NETP)
    assert (status, err) == (0, "")
    assert "0 mask(s) written" in out and "2 skipped" in out
    assert first.stat().st_mtime_ns == 10**9

    status, out, _ = cli("mask", GOOD[0], "-o", out_dir, "--model", U2NETP, "--overwrite")
    assert status == 0 and "1 mask(s) written" in out
    assert first.stat().st_mtime_ns != 10**9
    _check_sky_mask(first, GOOD[0])


def test_mask_16bit_unrefined_in_parallel(tmp_path, cli):
    status, out, err = cli(
        "mask",
        *GOOD,
        "-o",
        tmp_path,
        "--model",
        U2NETP,
        "--no-refine",
        "--16bit",
        "--jobs",
        "2",
    )
    assert (status, err) == (0, "")
    for photo in GOOD:
        _check_sky_mask(tmp_path / f"{photo.stem}.png", photo, bits=16)


def test_mask_refuses_tampered_model_before_any_photo(tmp_path, cli):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    shutil.copy(U2NETP.parent / "models.json", model_dir)
    model = model_dir / U2NETP.name
    data = bytearray(U2NETP.read_bytes())
    data[1000] ^= 0xFF
    model.write_bytes(bytes(data))

    status, out, err = cli("mask", GOOD[0], "-o", tmp_path / "masks", "--model", model)
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("skycore: error: model 'u2netp': ") and "modified" in err
    assert not (tmp_path / "masks").exists()


def test_mask_without_default_model(isolated_models, tmp_path, cli):
    status, _, err = cli("mask", GOOD[0], "-o", tmp_path)
    assert status == 2
    assert err.startswith("skycore: error: no default sky model is installed")


def test_mask_refuses_clashing_names(tmp_path, cli):
    other = tmp_path / "elsewhere" / GOOD[0].name
    other.parent.mkdir()
    other.write_bytes(GOOD[0].read_bytes())
    status, _, err = cli("mask", GOOD[0], other, "-o", tmp_path / "m", "--model", U2NETP)
    assert status == 2 and "would write the same mask" in err
    assert not list((tmp_path / "m").iterdir())


def test_refine_reproduces_seed_result_from_8_and_16_bit_probability(tmp_path, cli):
    name = "mmexport1623561100792"
    photo, probability = SEED_EVAL / f"{name}.jpg", SEED_EVAL / f"{name}.png"
    reference = cv2.imread(str(SEED_EVAL / f"{name}_result.png"), cv2.IMREAD_GRAYSCALE) / 255
    probability16 = tmp_path / "probability16.png"
    cv2.imwrite(
        str(probability16),
        cv2.imread(str(probability), cv2.IMREAD_GRAYSCALE).astype(np.uint16) * 257,
    )

    masks = []
    for source, output in (
        (probability, tmp_path / "out8.png"),
        (probability16, tmp_path / "sub" / "out16.png"),
    ):
        status, _, err = cli("refine", photo, source, "-o", output, "--cpp-compatible")
        assert (status, err) == (0, "")
        masks.append(cv2.imread(str(output), cv2.IMREAD_UNCHANGED) / 255)
    assert masks[0].shape == reference.shape
    assert np.abs(masks[0] - reference).mean() <= 0.005
    assert np.abs(masks[1] - masks[0]).mean() < 1e-3


def test_refine_bad_probability_is_one_line_error(tmp_path, cli):
    broken = tmp_path / "p.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    status, _, err = cli("refine", GOOD[0], broken, "-o", tmp_path / "o.png")
    assert status == 2
    assert err == f"skycore: error: {broken}: not an image, or the file is corrupt or truncated\n"
    assert not (tmp_path / "o.png").exists()


def test_models_lists_checks(isolated_models, tmp_path, cli):
    status, out, err = cli("models", SHARED / "models")
    assert (status, err) == (0, "")
    rows = _model_rows(out)
    model_id, path, *checks = rows["u2netp"].split()
    assert model_id == "u2netp" and Path(path).resolve() == U2NETP.resolve()
    assert checks == ["yes", "ok", "MIT", "-"]
    assert rows["ege"].split()[2:4] == ["yes", "ok"]
    assert "no default sky model is installed" in out

    entry = json.loads((U2NETP.parent / "models.json").read_text())["models"][0]
    entries = [
        {**entry, "id": "good", "file": "good.onnx", "default": True},
        {**entry, "id": "bent", "file": "bent.onnx"},
        {**entry, "id": "gone", "file": "gone.onnx", "url": "https://example.org/gone.onnx"},
    ]
    (isolated_models / "models.json").write_text(json.dumps({"schema": 1, "models": entries}))
    (isolated_models / "good.onnx").symlink_to(U2NETP)
    (isolated_models / "bent.onnx").write_bytes(U2NETP.read_bytes()[:-1])

    status, out, err = cli("models")
    assert status == 1
    lines = _model_rows(out)
    assert lines["good"].startswith("*") and " ok " in lines["good"]
    assert " mismatch " in lines["bent"]
    assert " no " in lines["gone"] and " missing " in lines["gone"]
    assert lines["gone"].endswith("https://example.org/gone.onnx")
    assert "* = default model" in out
    assert err == (
        f"skycore: {isolated_models / 'bent.onnx'}: SHA-256 does not match "
        f"{isolated_models / 'models.json'}\n"
    )

    (isolated_models / "broken.json").write_text("{")
    status, out, err = cli("models")
    assert status == 1
    assert set(_model_rows(out)) == {"good", "bent", "gone"}  # the valid manifest still lists
    assert "broken.json: cannot read model manifest" in err
    assert "broken.json: cannot read model manifest" in out.splitlines()[-1]


def test_refine_small_probability_gives_photo_size_mask(tmp_path, cli):
    name = "mmexport1623561100792"
    probability = cv2.imread(str(SEED_EVAL / f"{name}.png"))  # three equal channels
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), cv2.resize(probability, (192, 256), interpolation=cv2.INTER_AREA))
    output = tmp_path / "mask.png"
    status, _, err = cli("refine", SEED_EVAL / f"{name}.jpg", small, "-o", output, "--16bit")
    assert (status, err) == (0, "")
    mask = cv2.imread(str(output), cv2.IMREAD_UNCHANGED)
    reference = cv2.imread(str(SEED_EVAL / f"{name}_result.png"), cv2.IMREAD_GRAYSCALE)
    assert mask.dtype == np.uint16 and mask.shape == reference.shape
    agree = (mask > 32767) == (reference > 127)
    assert agree.mean() > 0.97  # measured 0.984


def test_mask_jobs_must_be_positive(tmp_path, cli):
    status, _, err = cli("mask", GOOD[0], "-o", tmp_path, "--jobs", "0")
    assert status == 2
    assert "--jobs: expected a whole number >= 1, got '0'" in err
