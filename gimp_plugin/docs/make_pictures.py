"""Make the README's before/after picture with the plug-in in a real GIMP 3.

For each photo: the photo, the "Sky" channel that Select > Sky... made, and the image after
Filters > Light and Shadow > Replace Sky... Only files in the repository are used: photos from
``samples/``, skies from ``skies/`` (licences in the SOURCES.md files there) and the default
model, which install.py installs when given no ``--model``. GIMP runs through
tests/gimp/harness.py (``gimp-console-3.0`` or gimp3-env); OpenCV pastes the panels together.

    python gimp_plugin/docs/make_pictures.py [-o gimp_plugin/docs/select-and-replace-sky.jpg]
    python gimp_plugin/docs/make_pictures.py --dialogs   # the two dialogs, in the GIMP GUI

``--dialogs`` opens Select Sky and Replace Sky on a sample photo in the real GIMP 3 GUI
(``../shared/tools/gimp3/gimp-gui-shot``) and saves each dialog, cut from the screenshot, as
``gimp_plugin/docs/<procedure>-dialog.png``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "gimp"))
from harness import CACHE, REPO, SHARED, Gimp  # noqa: E402

#: (photo in samples/, new sky in skies/).
PAIRS = (
    ("aitzgorri.jpg", "day_blue_cirrus.jpg"),
    ("picosdeeuropa.jpg", "sunset_clouds.jpg"),
)
PHOTOS = REPO / "samples"
SKIES = REPO / "skies"
ROW_WIDTH = 1500  # each row: three panels of the photo's aspect, about this wide

BATCH = """
import os
out = os.environ["PICTURE_OUT"]
photos = os.environ["PICTURE_PHOTOS"].split(os.pathsep)
skies = os.environ["PICTURE_SKIES"].split(os.pathsep)
width = int(os.environ["PICTURE_WIDTH"])
pdb = Gimp.get_pdb()
for index, (path, sky) in enumerate(zip(photos, skies)):
    sky_file = Gio.File.new_for_path(sky)
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(path))
    image.scale(width, round(image.get_height() * width / image.get_width()))
    layer = image.get_layers()[0]
    runs = (("select", {"output": "channel"}), ("replace", {"sky": "file", "sky-file": sky_file}))
    for name, options in runs:
        proc = pdb.lookup_procedure("plug-in-" + name + "-sky")
        config = proc.create_config()
        config.set_property("image", image)
        config.set_core_object_array("drawables", [layer])
        for key, value in options.items():
            config.set_property(key, value)
        result = proc.run(config)
        assert result.index(0) == Gimp.PDBStatusType.SUCCESS, result.index(1)
    for kind in ("photo", "mask", "result"):
        target = f"{out}/{index}-{kind}.png"
        if kind == "photo":
            copy = Gimp.Image.new(image.get_width(), image.get_height(), Gimp.ImageBaseType.RGB)
            copy.insert_layer(Gimp.Layer.new_from_drawable(layer, copy), None, 0)
        elif kind == "mask":
            copy = Gimp.Image.new(image.get_width(), image.get_height(), Gimp.ImageBaseType.GRAY)
            copy.insert_layer(Gimp.Layer.new_from_drawable(image.get_channels()[0], copy), None, 0)
        else:
            copy = image.duplicate()
            copy.flatten()
        Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, copy, Gio.File.new_for_path(target), None)
        copy.delete()
    image.delete()
"""


DOCS = Path(__file__).resolve().parent
GUI_SHOT = SHARED / "tools" / "gimp3" / "gimp-gui-shot"


def _longest_run(indices: np.ndarray) -> np.ndarray:
    """The longest stretch of consecutive values in sorted ``indices``."""
    runs = np.split(indices, np.flatnonzero(np.diff(indices) > 1) + 1)
    return max(runs, key=len)


def dialog_pictures(work: Path) -> int:
    """Screenshot the dialogs and keep the part of the screen each dialog covers."""
    gimp = Gimp("gui", work)
    gimp.ensure()
    plugins = gimp.gimp_dir / "plug-ins"
    done = gimp.run(
        ["python3", REPO / "install.py", "--gimp-dir", gimp.gimp_dir,
         "--data-dir", plugins / "zz-skycore-data", "--system-site-packages"],
        timeout=900,
    )  # fmt: skip
    if done.returncode != 0:
        print(done.stderr.decode()[-3000:], file=sys.stderr)
        return 1
    # Enhance Sky on a night photo with an orange sky (google/sky-optimization, Apache-2.0).
    night = SHARED / "data" / "photos" / "skyopt_200714_orig.jpg"
    for procedure, photo in (
        ("plug-in-select-sky", PHOTOS / PAIRS[0][0]),
        ("plug-in-replace-sky", PHOTOS / PAIRS[0][0]),
        ("plug-in-enhance-sky", night),
    ):
        out = work / procedure
        subprocess.run(
            [str(GUI_SHOT), "run", "--plugin-dir", str(plugins), "--image",
             str(photo), "--proc", procedure, "--out", str(out), "--no-menu",
             "--wait", "3", "--keys", "Escape"],
            check=False,
        )  # fmt: skip
        before = cv2.imread(str(out / "01-image.png"))
        shot = cv2.imread(str(out / "03-dialog.png"))
        # The dialog's columns are those of its title bar (the window manager's light blue:
        # its grey body can match a dark canvas behind it); its rows the block below where
        # most pixels changed (GIMP's title and docks change a little too).
        # A title bar row is one colour from end to end (its gradient runs downwards), which
        # a blue sky in the photo behind is not.
        blue, red = shot[..., 0].astype(int), shot[..., 2].astype(int)
        flat = np.zeros(shot.shape[:2], bool)
        flat[:, 1:] = (shot[:, 1:] == shot[:, :-1]).all(axis=2)
        title = flat & (blue > red + 30) & (blue > 150)
        bar_rows = np.flatnonzero(title.sum(axis=1) >= 300)
        cols = _longest_run(np.flatnonzero(title[bar_rows].any(axis=0)))
        changed = np.abs(shot.astype(int) - before).sum(axis=2) > 30
        rows = _longest_run(np.flatnonzero(changed[:, cols].mean(axis=1) > 0.02))
        crop = shot[bar_rows.min() : rows.max() + 1, cols.min() - 1 : cols.max() + 1]
        target = DOCS / f"{procedure.removeprefix('plug-in-')}-dialog.png"
        cv2.imwrite(str(target), crop)
        print(f"wrote {target}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "-o", "--output", type=Path,
        default=Path(__file__).resolve().parent / "select-and-replace-sky.jpg",
    )  # fmt: skip
    parser.add_argument("--variant", default="nonumpy", help="gimp3-env variant (harness.py)")
    parser.add_argument("--dialogs", action="store_true", help="screenshot the dialogs")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sky-pictures-", dir="/tmp"))
    if args.dialogs:
        return dialog_pictures(work)
    gimp = Gimp(args.variant, work)
    # A data folder of its own: the tests may install another default model into theirs.
    gimp.data_dir = CACHE / f"{args.variant}-pictures" / "data"
    gimp.data_dir.mkdir(parents=True, exist_ok=True)
    gimp.ensure()
    done = gimp.install()
    if done.returncode != 0:
        print(done.stderr.decode(), file=sys.stderr)
        return 1
    out = work / "panels"
    out.mkdir()
    done = gimp.batch(
        BATCH,
        env={
            "PICTURE_OUT": str(out),
            "PICTURE_PHOTOS": ":".join(str(PHOTOS / photo) for photo, _ in PAIRS),
            "PICTURE_SKIES": ":".join(str(SKIES / sky) for _, sky in PAIRS),
            "PICTURE_WIDTH": str(ROW_WIDTH // 3 - 4),
        },
    )
    log = done.stderr.decode()
    if done.returncode != 0:
        print(log[-3000:], file=sys.stderr)
        return 1
    # The plug-in's own report of each run: the model it used and the sky fraction.
    print("".join(line for line in log.splitlines(True) if line.startswith("select-sky:")), end="")
    rows = []
    for index in range(len(PAIRS)):
        panels = [
            cv2.imread(str(out / f"{index}-{kind}.png"), cv2.IMREAD_COLOR)
            for kind in ("photo", "mask", "result")
        ]
        gap = np.full((panels[0].shape[0], 6, 3), 255, np.uint8)
        rows.append(np.hstack([panels[0], gap, panels[1], gap, panels[2]]))
    gap = np.full((6, rows[0].shape[1], 3), 255, np.uint8)
    picture = np.vstack([rows[0], *[part for row in rows[1:] for part in (gap, row)]])
    cv2.imwrite(str(args.output), picture, [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
