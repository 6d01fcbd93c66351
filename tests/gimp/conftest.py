"""Fixtures for the real-GIMP tests: one GIMP environment per variant, the plug-in installed
into it by install.py, and every Select Sky case run in as few GIMP launches as possible."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest
from harness import MODEL, PHOTOS, Gimp, selected_variants, unavailable_reason

HERE = Path(__file__).resolve().parent

#: The README's batch one-liner, run as written in a folder of JPEG photos.
BATCH_ONE_LINER = (
    "gimp-console-3.0 -i --quit --batch-interpreter=python-fu-eval -b "
    '\'for f in sorted(__import__("glob").glob("*.jpg")): '
    "i = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(f)); "
    'p = Gimp.get_pdb().lookup_procedure("plug-in-select-sky"); c = p.create_config(); '
    'c.set_property("image", i); c.set_core_object_array("drawables", i.get_layers()); '
    'c.set_property("output", "layer-mask"); r = p.run(c); '
    "assert r.index(0) == Gimp.PDBStatusType.SUCCESS, (f, r.index(1)); "
    "Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, i, "
    'Gio.File.new_for_path(f[:-4] + ".xcf"), None); '
    "i.delete()'"
)
BATCH_PHOTOS = ("kodak_kodim16.jpg", "wikimedia_036.jpg")


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(item.fspath).resolve().parent == HERE:
            item.add_marker(pytest.mark.gimp)


@pytest.fixture(scope="session", params=selected_variants())
def gimp(request, tmp_path_factory) -> Gimp:
    """A ready GIMP 3 environment with the plug-in installed by install.py."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    env = Gimp(request.param, tmp_path_factory.mktemp(f"gimp-{request.param}"))
    env.ensure()
    done = env.install("--model", str(MODEL))
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    env.install_log = done.stdout.decode()
    return env


@pytest.fixture(scope="session")
def one_liner_folder(gimp) -> Path:
    """A folder of photos that the README's batch one-liner has been run over."""
    folder = gimp.work / "batch"
    folder.mkdir()
    for name in BATCH_PHOTOS:
        shutil.copyfile(PHOTOS / name, folder / name)
    done = gimp.run(shlex.split(BATCH_ONE_LINER), cwd=folder)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return folder


@pytest.fixture(scope="session")
def select_sky_run(gimp, one_liner_folder) -> tuple[dict, Path]:
    """Every Select Sky case of select_sky_batch.py, run in one GIMP launch."""
    out = gimp.work / "out"
    out.mkdir()
    model_file = gimp.data_dir / "models" / "u2netp.onnx"
    done = gimp.batch(
        (HERE / "select_sky_batch.py").read_text(),
        env={
            "SKY_TEST_OUT": str(out),
            "SKY_TEST_PHOTOS": str(PHOTOS),
            "SKY_TEST_MODEL_FILE": str(model_file),
            "SKY_TEST_XCF_DIR": str(one_liner_folder),
        },
    )
    log = done.stderr.decode(errors="replace")
    assert done.returncode == 0, log[-4000:]
    results = json.loads((out / "results.json").read_text())
    results["_log"] = log
    return results, out
