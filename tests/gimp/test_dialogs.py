"""Both dialogs in the real GIMP 3 GUI (gimp-gui-shot on Xvfb): they open grouped, with the sky
gallery, GIMP reports no duplicate mnemonic and no sensitivity rule it could not set, and
Cancel leaves the image as it was."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from harness import MODEL, REPO, SHARED, Gimp, unavailable_reason

GUI_SHOT = SHARED / "tools" / "gimp3" / "gimp-gui-shot"
PROCEDURES = ("plug-in-select-sky", "plug-in-replace-sky")


def shoot(plugin_dir: Path, procedure: str, out: Path, keys: str) -> subprocess.CompletedProcess:
    """Open ``procedure``'s dialog on the README's sample photo and press ``keys``."""
    command = [
        GUI_SHOT, "run", "--plugin-dir", plugin_dir, "--image", REPO / "samples" / "aitzgorri.jpg",
        "--proc", procedure, "--out", out, "--no-menu", "--wait", "2", "--timeout", "240",
        "--keys", keys,
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


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_dialog_opens_clean_and_cancel_changes_nothing(plugin_dir, tmp_path, procedure):
    out = tmp_path / procedure
    done = shoot(plugin_dir, procedure, out, "Escape")
    log = (out / "gimp.log").read_text(errors="replace")
    assert (out / "03-dialog.png").is_file(), done.stderr.decode()[-2000:] + log[-2000:]
    assert (out / "result.txt").read_text().startswith("status: cancel")
    assert "duplicate mnemonic" not in log
    assert "no widget was created" not in log
    assert "Traceback" not in log
