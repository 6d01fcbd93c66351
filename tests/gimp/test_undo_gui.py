"""One Ctrl+Z in the GIMP 3 GUI undoes a whole Select Sky run (each output mode), a whole
Replace Sky run and a whole Enhance Sky run.

GIMP's PDB offers no undo, so this runs the real GUI on Xvfb (gimp-gui-shot's rootfs) and
presses Ctrl+Z in the image window between runs (undo_gui.sh, undo_gui_batch.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from harness import MODEL, PHOTOS, SHARED, Gimp, unavailable_reason

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def undo_results(tmp_path_factory) -> dict:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    if shutil.which("gimp-console-3.0") and not (shutil.which("Xvfb") and shutil.which("xdotool")):
        pytest.skip("the machine's GIMP 3 is used, and it has no Xvfb/xdotool for the GUI")
    variant = "native" if shutil.which("gimp-console-3.0") else "gui"
    gimp = Gimp(variant, tmp_path_factory.mktemp("gimp-gui"))
    gimp.ensure()
    done = gimp.install("--model", str(MODEL), "--system-site-packages")
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    work = gimp.work / "undo"
    work.mkdir()
    done = gimp.run(
        ["bash", HERE / "undo_gui.sh"],
        env={
            "UNDO_WORK": str(work),
            "UNDO_BATCH": str(HERE / "undo_gui_batch.py"),
            "UNDO_IMAGE": str(PHOTOS / "wikimedia_036.jpg"),
            "UNDO_SKY": str(SHARED / "data" / "skies" / "kirainmoe_cumulus_blue.jpg"),
            "UNDO_TIMEOUT": "300",
        },
    )
    log = (work / "gimp.log").read_text(errors="replace") if (work / "gimp.log").exists() else ""
    assert done.returncode == 0, done.stderr.decode()[-2000:] + log[-3000:]
    return json.loads((work / "results.json").read_text())


@pytest.mark.parametrize(
    "name", ["selection_add", "layer_mask", "channel", "replace_sky", "enhance_sky"]
)
def test_one_undo_restores_the_image(undo_results, name):
    record = undo_results[name]
    assert record["status"] == "success"
    before, after, undone = record["before"], record["after"], record["undone"]
    assert after != before, "the run changed nothing, so undo proves nothing"
    assert after["layer_sha256"] == before["layer_sha256"], "the layer's pixels changed"
    assert undone == before
