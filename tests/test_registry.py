"""Tests of skycore.registry (manifests, lookup, checksums) and skycore.sessions (integrity
checks before use, the session cache)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from skycore import ModelError, find_model, list_models, predict_probability
from skycore.registry import checksum_status, default_model, read_manifest, user_model_dir
from skycore.sessions import get_session, verify_model

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
U2NETP = SHARED / "models" / "skyseg-u2netp.onnx"
EGE = SHARED / "models" / "skyseg-ege.onnx"

U2NETP_SHA256 = "3a1f07f607383832a340f64d7ba12ffa481bb4182b99de0c9e925ccaa5616603"


def _u2netp_entry(**changes) -> dict:
    """The u2netp entry of the shared manifest, with changes."""
    entries = json.loads((U2NETP.parent / "models.json").read_text())["models"]
    entry = next(e for e in entries if e["id"] == "u2netp")
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


def _install(folder: Path, entries: list[dict], *, copy: bool = False) -> Path:
    """Write a manifest into ``folder`` and put the u2netp file beside it (link or copy)."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        target = folder / entry["file"]
        if not target.exists():
            if copy:
                shutil.copyfile(U2NETP, target)
            else:
                target.symlink_to(U2NETP)
    manifest = folder / "models.json"
    manifest.write_text(json.dumps({"schema": 1, "models": entries}))
    return manifest


def test_shared_manifest_is_parsed():
    specs = {s.id: s for s in read_manifest(U2NETP.parent / "models.json")}
    u2netp, ege = specs["u2netp"], specs["ege"]
    assert u2netp.path == U2NETP and u2netp.sha256 == U2NETP_SHA256
    assert (u2netp.input_name, u2netp.output_name, u2netp.input_size) == ("input", "prob", 384)
    assert u2netp.dynamic_size and u2netp.size_multiple == 32
    assert u2netp.normalization == "mean_std" and u2netp.output == "probability"
    assert u2netp.license == "MIT" and not u2netp.default
    assert ege.path == EGE and not ege.dynamic_size and ege.size_multiple is None
    assert ege.normalization == "minmax_0_255"


def test_find_model_by_explicit_path():
    spec = find_model(U2NETP)
    assert spec.id == "u2netp" and spec.path == U2NETP
    assert find_model(str(U2NETP)) == spec
    assert find_model(spec) is spec


def test_user_model_dir_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SKYCORE_MODEL_DIR", str(tmp_path / "mine"))
    assert user_model_dir() == tmp_path / "mine"
    monkeypatch.delenv("SKYCORE_MODEL_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert user_model_dir() == tmp_path / "data" / "skycore" / "models"


def test_find_model_by_name_in_user_folder(isolated_models):
    _install(isolated_models, [_u2netp_entry(id="sky-a", file="a.onnx")])
    spec = find_model("sky-a")
    assert spec.path == isolated_models / "a.onnx"
    assert find_model("a") == spec  # the file name and stem work too
    assert find_model("a.onnx") == spec
    assert [s.id for s in list_models()] == ["sky-a"]


def test_find_model_by_name_in_project_folder(isolated_models, tmp_path, monkeypatch):
    project = tmp_path / "project-models"
    _install(project, [_u2netp_entry(id="sky-p", file="p.onnx")])
    monkeypatch.setattr("skycore.registry.PROJECT_MODEL_DIR", project)
    assert find_model("sky-p").path == project / "p.onnx"


def test_user_folder_wins_over_project_folder(isolated_models, tmp_path, monkeypatch):
    project = tmp_path / "project-models"
    _install(project, [_u2netp_entry(id="sky", file="p.onnx")])
    _install(isolated_models, [_u2netp_entry(id="sky", file="u.onnx")])
    monkeypatch.setattr("skycore.registry.PROJECT_MODEL_DIR", project)
    assert find_model("sky").path == isolated_models / "u.onnx"
    assert len(list_models()) == 1


def test_default_model(isolated_models):
    with pytest.raises(ModelError, match="no default sky model is installed"):
        default_model()
    with pytest.raises(ModelError, match="no default sky model"):
        predict_probability(np.zeros((8, 8, 3), np.uint8))
    _install(isolated_models, [_u2netp_entry(id="sky-default", file="d.onnx", default=True)])
    assert default_model().id == "sky-default"
    assert find_model(None).id == "sky-default"


def test_missing_models(isolated_models, tmp_path):
    with pytest.raises(ModelError, match="unknown model 'nope'; known models: none"):
        find_model("nope")
    with pytest.raises(ModelError, match="model file not found"):
        find_model(tmp_path / "absent.onnx")
    with pytest.raises(ModelError, match="absent.onnx, and no model has that file name"):
        find_model("absent.onnx")
    _install(isolated_models, [_u2netp_entry(id="gone", file="gone.onnx", url="https://x.test/g")])
    (isolated_models / "gone.onnx").unlink()
    with pytest.raises(
        ModelError, match="listed but .*gone.onnx is missing; download it from https://x.test/g"
    ):
        find_model("gone")
    assert checksum_status(read_manifest(isolated_models / "models.json")[0]) == "missing"


def test_onnx_without_manifest_is_refused(tmp_path):
    lonely = tmp_path / "lonely.onnx"
    lonely.symlink_to(U2NETP)
    with pytest.raises(ModelError, match="no manifest .* describes this file"):
        find_model(lonely)


def test_tampered_model_is_refused(tmp_path):
    _install(tmp_path, [_u2netp_entry(file="copy.onnx")], copy=True)
    copy = tmp_path / "copy.onnx"
    spec = find_model(copy)
    assert checksum_status(spec) == "ok"
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    assert checksum_status(spec) == "mismatch"
    with pytest.raises(ModelError, match="damaged or has been modified"):
        verify_model(spec)
    with pytest.raises(ModelError, match="damaged or has been modified"):
        predict_probability(np.zeros((16, 16, 3), np.uint8), model=copy)


def test_wrong_tensor_names_are_refused(tmp_path):
    _install(tmp_path, [_u2netp_entry(file="m.onnx", output_name="mask")])
    with pytest.raises(ModelError, match="manifest names input 'input' and output 'mask'"):
        get_session(find_model(tmp_path / "m.onnx"))


def test_sessions_are_cached():
    spec = find_model(U2NETP)
    assert get_session(spec) is get_session(find_model(U2NETP))


def test_session_threads_sleep_instead_of_spinning():
    options = get_session(find_model(U2NETP)).get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("{not json", "cannot read model manifest"),
        ('{"schema": 1}', "top-level 'models' list"),
        ({"models": ["u2netp"]}, "must be an object"),
        ({"models": [_u2netp_entry(sha256=None)]}, "missing field.*sha256"),
        (
            {"models": [_u2netp_entry(input_name=None, output_name=None)]},
            "missing field.*input_name, output_name",
        ),
        ({"models": [_u2netp_entry(), _u2netp_entry(file="b.onnx")]}, "duplicate model id.*u2netp"),
        ({"models": [_u2netp_entry(sha256="abc")]}, "64 hex digits"),
        ({"models": [_u2netp_entry(file="../elsewhere.onnx")]}, "plain name"),
        ({"models": [_u2netp_entry(normalization="zscore")]}, "normalization must be one of"),
        ({"models": [_u2netp_entry(output="mask")]}, "output must be one of"),
        ({"models": [_u2netp_entry(input_size="big")]}, "bad number"),
        ({"models": [_u2netp_entry(std=[0.2, 0.0, 0.2])]}, "std > 0"),
        ({"models": [_u2netp_entry(mirror_average="yes")]}, "mirror_average must be true or false"),
        ({"models": [_u2netp_entry(input_geometry="round")]}, "input_geometry must be one of"),
    ],
    ids=[
        "bad-json",
        "no-models",
        "entry-not-object",
        "no-sha",
        "no-names",
        "duplicate-id",
        "bad-sha",
        "escaping-path",
        "normalization",
        "output",
        "size-not-number",
        "zero-std",
        "mirror-not-bool",
        "geometry",
    ],
)
def test_bad_manifests_are_refused(tmp_path, manifest, message):
    path = tmp_path / "models.json"
    path.write_text(manifest if isinstance(manifest, str) else json.dumps(manifest))
    with pytest.raises(ModelError, match=message) as raised:
        read_manifest(path)
    assert str(path) in str(raised.value)


def test_bad_manifest_in_model_folder_is_reported_on_lookup(isolated_models):
    (isolated_models / "broken.json").write_text("[1, 2")
    with pytest.raises(ModelError, match="broken.json: cannot read model manifest"):
        find_model("u2netp")
