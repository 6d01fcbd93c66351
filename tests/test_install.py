"""install.py on this machine (no GIMP needed): venv, model, plug-in, record, uninstall.

The real venv is made once per session with ``--system-site-packages --offline`` (the test
Python already has skycore's dependencies); the other tests reuse a Python that imports skycore
with ``--python`` to stay fast. tests/gimp runs install.py (venv and pip from the index) inside
a real GIMP 3 environment.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODEL = SHARED / "models" / "skyseg-u2netp.onnx"
PHOTO = SHARED / "data" / "photos" / "wikimedia_036.jpg"
PLUGIN = "sky-tools"

_spec = importlib.util.spec_from_file_location("install", REPO / "install.py")
install = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(install)


def run_install(*args, check=True):
    done = subprocess.run(
        [sys.executable, str(REPO / "install.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


@pytest.fixture(scope="session")
def venv_install(tmp_path_factory):
    """A complete install with a fresh venv; returns (gimp dir, data dir, install output)."""
    if sys.prefix != sys.base_prefix:
        pytest.skip(
            "the test Python is itself a venv, whose packages a --system-site-packages venv "
            "does not see (it sees the base Python's); tests/gimp covers making the venv"
        )
    root = tmp_path_factory.mktemp("venv-install")
    gimp, data = root / "gimp", root / "data"
    done = run_install(
        "--gimp-dir", gimp, "--data-dir", data, "--model", MODEL,
        "--system-site-packages", "--offline",
    )  # fmt: skip
    return gimp, data, done.stdout


def test_install_makes_venv_model_plugin_config_and_record(venv_install):
    gimp, data, output = venv_install
    plugin = gimp / "plug-ins" / PLUGIN
    python = data / "venv" / "bin" / "python"
    assert os.access(plugin / f"{PLUGIN}.py", os.X_OK)
    assert (plugin / f"{PLUGIN}.py").read_bytes() == (
        REPO / "gimp_plugin" / PLUGIN / f"{PLUGIN}.py"
    ).read_bytes()
    config = json.loads((plugin / "sky-tools.json").read_text())
    assert config["python"] == str(python)
    assert config["model_dir"] == str(data / "models")
    assert config["sky_dir"] == str(data / "skies")
    bundled = sorted(p.name for p in (REPO / "skies").iterdir())
    assert sorted(p.name for p in (data / "skies").iterdir()) == bundled
    for name in ("__init__.py", "options.py", "protocol.py", "registry.py", "errors.py"):
        assert (plugin / "skycore" / name).read_bytes() == (REPO / "skycore" / name).read_bytes()
    manifest = json.loads((data / "models" / "installed-u2netp.json").read_text())
    (entry,) = manifest["models"]
    assert entry["id"] == "u2netp" and entry["default"] is True
    assert entry["file"] == "u2netp.onnx"  # named by id, not by the source's file name
    installed_model = (data / "models" / "u2netp.onnx").read_bytes()
    assert hashlib.sha256(installed_model).hexdigest() == entry["sha256"]
    record = json.loads((data / "install-record.json").read_text())
    assert set(record["paths"]) == {
        str(plugin), str(data / "models" / "u2netp.onnx"),
        str(data / "models" / "installed-u2netp.json"), str(data / "venv"),
        str(data / "models"), str(data / "skies"), str(data),
        *(str(data / "skies" / name) for name in bundled),
    }  # fmt: skip
    assert "run:" in output and "--no-index" in output


@pytest.fixture(scope="session")
def skycore_python(request) -> Path:
    """A Python that imports skycore in isolated mode: this one, else the venv install's."""
    check = subprocess.run([sys.executable, "-I", "-c", "import skycore.worker"], cwd="/")
    if check.returncode == 0:
        return Path(sys.executable)
    _, data, _ = request.getfixturevalue("venv_install")
    return data / "venv" / "bin" / "python"


def test_installed_environment_runs_the_worker_with_the_default_model(venv_install):
    _, data, _ = venv_install
    pixels = np.zeros((48, 64, 3), np.float32)
    pixels[:20] = (0.45, 0.65, 0.95)  # a blue band on top of dark ground
    header = {
        "protocol": 1,
        "task": "mask",
        "inputs": [{"name": "image", "width": 64, "height": 48, "channels": 3}],
    }
    done = subprocess.run(
        [str(data / "venv" / "bin" / "python"), "-I", "-m", "skycore.worker"],
        input=json.dumps(header).encode() + b"\n" + pixels.tobytes(),
        capture_output=True,
        env={**os.environ, "SKYCORE_MODEL_DIR": str(data / "models")},
        cwd=data,
        timeout=120,
    )
    lines = done.stdout.split(b"\n")
    result = next(json.loads(line) for line in lines if b'"status"' in line)
    assert result["status"] == "ok", result
    assert result["info"]["model"] == "u2netp"


def test_reinstall_is_idempotent_and_uninstall_removes_exactly_what_was_installed(
    skycore_python, tmp_path
):
    python = skycore_python
    gimp, own = tmp_path / "gimp", tmp_path / "data"
    other_plugin = gimp / "plug-ins" / "someone-elses" / "someone-elses.py"
    other_plugin.parent.mkdir(parents=True)
    other_plugin.write_text("# not ours\n")
    args = ("--gimp-dir", gimp, "--data-dir", own, "--python", python, "--model", MODEL)
    run_install(*args)
    first = tree(tmp_path)
    record = (own / "install-record.json").read_text()
    run_install(*args)
    assert tree(tmp_path) == first
    assert (own / "install-record.json").read_text() == record
    users_model = own / "models" / "my-own.onnx"
    users_model.write_bytes(b"mine")
    users_sky = own / "skies" / "my-sky.jpg"
    users_sky.write_bytes(b"mine too")
    done = run_install("--gimp-dir", gimp, "--data-dir", own, "--uninstall")
    assert "remove" in done.stdout
    assert tree(tmp_path) == {
        "gimp", "gimp/plug-ins", "gimp/plug-ins/someone-elses",
        "gimp/plug-ins/someone-elses/someone-elses.py",
        "data", "data/models", "data/models/my-own.onnx", "data/skies", "data/skies/my-sky.jpg",
    }  # fmt: skip


def test_dry_run_changes_nothing(tmp_path):
    done = run_install(
        "--gimp-dir", tmp_path / "gimp", "--data-dir", tmp_path / "data", "--model", MODEL,
        "--dry-run",
    )  # fmt: skip
    assert "would create the venv" in done.stdout
    assert "would copy the model" in done.stdout
    assert "would install the plug-in" in done.stdout
    assert done.stdout.endswith("dry run: nothing was changed\n")
    assert tree(tmp_path) == set()


def test_failure_leaves_nothing_behind(skycore_python, tmp_path):
    python = skycore_python
    models = tmp_path / "bad-models"
    models.mkdir()
    (models / "broken.onnx").write_bytes(b"not the model the manifest describes")
    manifest = json.loads((MODEL.parent / "models.json").read_text())
    entry = dict(manifest["models"][0], id="broken", file="broken.onnx")
    (models / "models.json").write_text(json.dumps({"schema": 1, "models": [entry]}))
    target = tmp_path / "target"
    done = run_install(
        "--gimp-dir", target / "gimp", "--data-dir", target / "data", "--python", python,
        "--model", models / "broken.onnx", check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "does not match its manifest" in done.stderr
    assert "Traceback" not in done.stderr
    assert tree(target) == set()


def test_unknown_model_and_unusable_python_are_clear_errors(tmp_path):
    target = ("--gimp-dir", tmp_path / "g", "--data-dir", tmp_path / "d")
    done = run_install(*target, "--model", "no-such-model", check=False)
    assert done.returncode == 1
    assert "unknown model 'no-such-model'" in done.stderr
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    done = run_install(*target, "--python", bare / "bin" / "python", "--model", MODEL, check=False)
    assert done.returncode == 1
    assert "cannot import skycore.worker" in done.stderr
    done = run_install(*target, "--python", tmp_path / "nope", "--model", MODEL, check=False)
    assert done.returncode == 1
    assert "no such file" in done.stderr
    done = run_install(*target, "--uninstall", check=False)
    assert done.returncode == 1 and "nothing to uninstall" in done.stderr
    assert not (tmp_path / "g").exists() and not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    ("platform", "existing", "expected"),
    [
        ("linux", ".config/GIMP/3.0", ".config/GIMP/3.0"),
        ("linux", ".var/app/org.gimp.GIMP/config/GIMP/3.0",
         ".var/app/org.gimp.GIMP/config/GIMP/3.0"),
        ("linux", "snap/gimp/current/.config/GIMP/3.0", "snap/gimp/current/.config/GIMP/3.0"),
        ("darwin", "Library/Application Support/GIMP/3.0",
         "Library/Application Support/GIMP/3.0"),
        ("win32", "AppData/Roaming/GIMP/3.0", "AppData/Roaming/GIMP/3.0"),
    ],
)  # fmt: skip
def test_finds_the_gimp_user_folder_per_platform(tmp_path, platform, existing, expected):
    (tmp_path / existing).mkdir(parents=True)
    assert install.find_gimp_dir(platform, tmp_path, {}) == tmp_path / expected


def test_gimp_folder_ambiguity_and_absence_are_explained(tmp_path):
    with pytest.raises(install.InstallError, match="found no GIMP 3 user folder"):
        install.find_gimp_dir("linux", tmp_path, {})
    (tmp_path / ".config/GIMP/3.0").mkdir(parents=True)
    (tmp_path / ".var/app/org.gimp.GIMP/config/GIMP/3.0").mkdir(parents=True)
    with pytest.raises(install.InstallError, match="several GIMP 3 user folders"):
        install.find_gimp_dir("linux", tmp_path, {})
    chosen = tmp_path / "elsewhere"
    assert install.find_gimp_dir("linux", tmp_path, {"GIMP3_DIRECTORY": str(chosen)}) == chosen


def test_flatpak_install_keeps_data_in_the_sandbox(tmp_path):
    flatpak = tmp_path / ".var/app/org.gimp.GIMP/config/GIMP/3.0"
    data = install.default_data_dir("linux", tmp_path, {}, flatpak)
    assert data == tmp_path / ".var/app/org.gimp.GIMP/data/skycore"
    native = install.default_data_dir("linux", tmp_path, {}, tmp_path / ".config/GIMP/3.0")
    assert native == tmp_path / ".local/share/skycore"


def test_reinstalling_with_another_model_leaves_one_default(skycore_python, tmp_path):
    args = ("--gimp-dir", tmp_path / "gimp", "--data-dir", tmp_path / "data")
    run_install(*args, "--python", skycore_python, "--model", MODEL)
    run_install(*args, "--python", skycore_python)  # the project's default model this time
    manifests = sorted((tmp_path / "data" / "models").glob("installed-*.json"))
    defaults = {
        entry["id"]
        for path in manifests
        for entry in json.loads(path.read_text())["models"]
        if entry["default"]
    }
    assert len(manifests) == 2 and defaults == {"skyseg-u2netp"}
    # The reference u2netp and the project's import of it share a file name, not a file.
    installed = sorted(p.name for p in (tmp_path / "data" / "models").glob("*.onnx"))
    assert installed == ["skyseg-u2netp.onnx", "u2netp.onnx"]
