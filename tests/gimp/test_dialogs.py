"""The dialogs in the real GIMP 3 GUI (gimp-gui-shot on Xvfb): they open with their live
preview, GIMP reports no duplicate mnemonic and no sensitivity rule it could not set, the
preview follows an option changed by its mnemonic, and Cancel leaves the image as it was."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from harness import MODEL, REPO, SHARED, Gimp, unavailable_reason
from PIL import Image

GUI_SHOT = SHARED / "tools" / "gimp3" / "gimp-gui-shot"
PROCEDURES = ("plug-in-select-sky", "plug-in-replace-sky", "plug-in-enhance-sky")
#: The photo each dialog opens on: the README's sample, and for Enhance Sky a night photo
#: with an orange sky (google/sky-optimization, Apache-2.0).
PHOTOS = {
    "plug-in-select-sky": REPO / "samples" / "aitzgorri.jpg",
    "plug-in-replace-sky": REPO / "samples" / "aitzgorri.jpg",
    "plug-in-enhance-sky": SHARED / "data" / "photos" / "skyopt_200714_orig.jpg",
}


def shoot(plugin_dir: Path, procedure: str, out: Path, edit: str) -> subprocess.CompletedProcess:
    """Open ``procedure``'s dialog on its photo, type ``edit``, cancel."""
    command = [
        GUI_SHOT, "run", "--plugin-dir", plugin_dir, "--image", PHOTOS[procedure],
        "--proc", procedure, "--out", out, "--no-menu", "--wait", "4", "--timeout", "240",
        "--edit", edit, "--keys", "Escape",
    ]  # fmt: skip
    return subprocess.run([str(c) for c in command], capture_output=True, timeout=900)


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory) -> Path:
    """The plug-in installed by install.py with its data inside the plug-in folder, the one
    folder gimp-gui-shot shares with its GIMP."""
    reason = unavailable_reason()
    if reason or shutil.which("gimp-console-3.0") or not GUI_SHOT.is_file():
        pytest.skip(reason or "gimp-gui-shot runs only with gimp3-env")
    gimp = Gimp("gui", tmp_path_factory.mktemp("gimp-dialogs"))
    gimp.ensure()
    plugins = gimp.gimp_dir / "plug-ins"
    done = gimp.run(
        ["python3", REPO / "install.py", "--gimp-dir", gimp.gimp_dir,
         "--data-dir", plugins / "zz-skycore-data", "--model", MODEL, "--system-site-packages"],
        timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout.decode()[-2000:] + done.stderr.decode()[-2000:]
    return plugins


def changed_pixels(first: Path, second: Path) -> int:
    a, b = (np.asarray(Image.open(p).convert("RGB"), np.int16) for p in (first, second))
    return int((np.abs(a - b).sum(axis=2) > 30).sum())


#: Keys that change what the preview shows: Invert (Select Sky); Match amount 0.5 -> 0, the
#: foreground keeps its own light (Replace Sky); White balance 1 -> 0, the sky turns orange
#: again (Enhance Sky).
EDITS = {
    "plug-in-select-sky": "alt+v",
    "plug-in-replace-sky": "alt+m ctrl+a 0 Tab",
    "plug-in-enhance-sky": "alt+b ctrl+a 0 Tab",
}


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_dialog_preview_follows_an_option_and_cancel_changes_nothing(
    plugin_dir, tmp_path, procedure
):
    out = tmp_path / procedure
    done = shoot(plugin_dir, procedure, out, EDITS[procedure])
    log = (out / "gimp.log").read_text(errors="replace")
    assert (out / "03b-dialog-edited.png").is_file(), done.stderr.decode()[-2000:] + log[-2000:]
    assert (out / "result.txt").read_text().startswith("status: cancel")
    assert "duplicate mnemonic" not in log
    assert "no widget was created" not in log
    assert "Traceback" not in log and "sky-tools preview:" not in log
    # The preview (480 px wide) redrew: far more changed than the ticked box.
    assert changed_pixels(out / "03-dialog.png", out / "03b-dialog-edited.png") > 20_000
    # The photo under the dialog never changed: after Cancel the screen is as before it.
    assert changed_pixels(out / "01-image.png", out / "04-result.png") < 500
