"""The real photos the sky model learns from, where they come from, and their licences.

Two kinds, each split into training and held-out parts per source with
:func:`training.composites.split_items` (fixed seed):

* photos with sky, labelled by the teachers' ensemble (:func:`training.teachers.teacher_label`:
  the mean of the ADE20K DeepLab's and u2netp's mirror-averaged sky probabilities, upsampled
  to the photo);
* photos without sky (indoor, close-ups), whose label is all zero.

They come from ``../shared/data/photos`` (see its ``SOURCES.md``), from
``../shared/data/weather-photos`` (cloudy, rainy, sunny and sunrise scenes, CC BY 4.0; all
labelled by the teachers, which find no sky in some), from the photo wallpapers
of Debian packages, from the sample photos of Debian's ``opencv-doc`` and from the few photos
in scikit-image's wheel, installed with
``apt-get install lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 lxqt-themes mate-backgrounds
plasma-workspace-wallpapers opencv-doc`` and, from Debian 13 (on Debian 12, ``dpkg -i`` its
``.deb`` from the Debian 13 pool: it has no dependencies), ``budgie-backgrounds``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import skimage.data

import skycore

from .composites import SHARED_DIR, split_items
from .teachers import teacher_label

PHOTO_DIR = SHARED_DIR / "data" / "photos"
WEATHER_DIR = SHARED_DIR / "data" / "weather-photos"
WEATHER_LICENSE = "CC-BY-4.0 (Ajayi 2018, Multi-class Weather Dataset, doi 10.17632/4drtyfjtfy.1)"
#: Photos are labelled at this long side at most: the shared photos are <= 1600 px already
#: and multi-megapixel wallpapers gain nothing at the training resolution.
LABEL_LONG_SIDE = 1600

_LOMIRI = "/usr/share/backgrounds"
_MATE = "/usr/share/backgrounds/mate/nature"
_LXQT = "/usr/share/lxqt/wallpapers"
_LOMIRI_PKG = "lomiri-wallpapers-16.04"
_LOMIRI20_PKG = "lomiri-wallpapers-20.04"
# Plasma ships each photo cropped to many screen sizes; one crop per photo, so no photo is
# both trained on and held out. debian/copyright says GPL-2+ (each metadata.json: LGPL-3).
_PLASMA, _PLASMA_PKG, _PLASMA_LICENSE = (
    "/usr/share/wallpapers/{}/contents/images/2560x1600.jpg",
    "plasma-workspace-wallpapers",
    "GPL-2+",
)
_MATE_PKG, _MATE_LICENSE = "mate-backgrounds", "GPL-2+"
_LXQT_PKG, _LXQT_LICENSE = "lxqt-themes", "LGPL-2.1+"
# Debian 13's budgie-backgrounds: photos dedicated to the public domain (debian/copyright).
_BUDGIE, _BUDGIE_PKG, _BUDGIE_LICENSE = (
    "/usr/share/backgrounds/budgie",
    "budgie-backgrounds",
    "CC0-1.0",
)
# OpenCV's sample data; debian/copyright puts it under the project's licence ("Files: *").
_OPENCV, _OPENCV_PKG, _OPENCV_LICENSE = (
    "/usr/share/doc/opencv-doc/examples/data",
    "opencv-doc",
    "Apache-2.0 AND BSD-3-Clause",
)

# (path, package, licence, has sky). Licences from each package's debian/copyright;
# abstract and graphic wallpapers are left out.
WALLPAPERS: tuple[tuple[str, str, str, bool], ...] = (
    (f"{_LOMIRI}/Bridge_by_Sander_Klootwijk.jpg", _LOMIRI_PKG, "CC-BY-SA-4.0", True),
    (f"{_LOMIRI}/Dragonfly_by_Bolly.jpg", _LOMIRI_PKG, "CC-BY-SA-4.0", True),
    (f"{_LOMIRI}/aitzgorri_by_Aitzol_Berasategi.jpg", _LOMIRI_PKG, "CC-BY-4.0", True),
    (f"{_LOMIRI}/picosdeeuropa_by_Aitzol_Berasategi.jpg", _LOMIRI_PKG, "CC-BY-4.0", True),
    (f"{_LOMIRI}/sunset_by_Aitzol_Berasategi.jpg", _LOMIRI_PKG, "CC-BY-4.0", True),
    (f"{_MATE}/Dune.jpg", _MATE_PKG, _MATE_LICENSE, True),
    (f"{_MATE}/Storm.jpg", _MATE_PKG, _MATE_LICENSE, True),
    (f"{_LXQT}/after-the-rain.jpg", _LXQT_PKG, _LXQT_LICENSE, True),
    (f"{_LXQT}/fog.jpg", _LXQT_PKG, _LXQT_LICENSE, True),
    (f"{_LXQT}/this-is-not-windows.jpg", _LXQT_PKG, _LXQT_LICENSE, True),
    (f"{_LXQT}/Valendas.png", _LXQT_PKG, _LXQT_LICENSE, True),
    (f"{_LOMIRI}/Infinite-Sea_by_Aury88.jpg", _LOMIRI20_PKG, "CC-BY-SA-3.0", True),
    *(
        (_PLASMA.format(name), _PLASMA_PKG, _PLASMA_LICENSE, True)
        for name in ("BytheWater", "ColdRipple", "DarkestHour", "EveningGlow", "Kite", "summer_1am")
    ),
    # Left out: casa-mila (the reference calls its blown-out sky no sky) and high-trestle-trail
    # (it marks half of the sky behind the bridge's frame).
    *(
        (f"{_BUDGIE}/{name}.jpg", _BUDGIE_PKG, _BUDGIE_LICENSE, True)
        for name in (
            "beacon-street-sunset",
            "canyon-wren",
            "extreme-desert-hike",
            "lake-sherburne",
            "piazza-gae-aulenti",
            "roman-colosseum",
            "singaporean-cityscape",
            "tea-gardens",
        )
    ),
    *(
        (f"{_OPENCV}/{name}", _OPENCV_PKG, _OPENCV_LICENSE, True)
        for name in ("building.jpg", "home.jpg", "leuvenA.jpg")
    ),
    (f"{_LOMIRI}/Picture_0B_by_freespace.jpg", _LOMIRI_PKG, "CC-BY-4.0", False),
    (f"{_LOMIRI}/Picture_1A_by_freespace.jpg", _LOMIRI_PKG, "CC-BY-4.0", False),
    (f"{_LOMIRI}/Wine_by_Jakkub_Mede.jpg", _LOMIRI_PKG, "CC-BY-SA-4.0", False),
    (f"{_LOMIRI}/free_by_Peter_Nerlich.jpg", _LOMIRI_PKG, "CC-BY-SA-4.0", False),
    (f"{_LOMIRI}/friends_by_Aitzol_Berasategi.jpg", _LOMIRI_PKG, "CC-BY-4.0", False),
    (f"{_LOMIRI}/greentock_by_Peter_Nerlich.jpg", _LOMIRI_PKG, "CC-BY-SA-4.0", False),
    (f"{_LOMIRI}/life_by_Aitzol_Berasategi.jpg", _LOMIRI_PKG, "CC-BY-4.0", False),
    (f"{_MATE}/Aqua.jpg", _MATE_PKG, _MATE_LICENSE, False),
    (f"{_MATE}/Blinds.jpg", _MATE_PKG, _MATE_LICENSE, False),
    (f"{_MATE}/FreshFlower.jpg", _MATE_PKG, _MATE_LICENSE, False),
    (f"{_MATE}/Garden.jpg", _MATE_PKG, _MATE_LICENSE, False),
    (f"{_MATE}/GreenMeadow.jpg", _MATE_PKG, _MATE_LICENSE, False),
    (f"{_MATE}/LadyBird.jpg", _MATE_PKG, _MATE_LICENSE, False),
    (f"{_MATE}/RainDrops.jpg", _MATE_PKG, _MATE_LICENSE, False),
    (f"{_MATE}/TwoWings.jpg", _MATE_PKG, _MATE_LICENSE, False),
    (f"{_MATE}/Wood.jpg", _MATE_PKG, _MATE_LICENSE, False),
    (f"{_MATE}/YellowFlower.jpg", _MATE_PKG, _MATE_LICENSE, False),
    (f"{_LXQT}/Butterfly-Kenneth-Wimer.jpg", _LXQT_PKG, _LXQT_LICENSE, False),
    (f"{_LXQT}/appleflower.png", _LXQT_PKG, _LXQT_LICENSE, False),
    (f"{_LXQT}/butterfly.png", _LXQT_PKG, _LXQT_LICENSE, False),
    (f"{_LXQT}/drop.png", _LXQT_PKG, _LXQT_LICENSE, False),
    (f"{_LXQT}/flowers.png", _LXQT_PKG, _LXQT_LICENSE, False),
    (f"{_LOMIRI}/Kleiber_by_Lukas_Baubkus.jpg", _LOMIRI20_PKG, "CC-BY-SA-3.0", False),
    *(
        (_PLASMA.format(name), _PLASMA_PKG, _PLASMA_LICENSE, False)
        for name in ("FallenLeaf", "Grey", "OneStandsOut", "Path")
    ),
    *(
        (f"{_BUDGIE}/{name}.jpg", _BUDGIE_PKG, _BUDGIE_LICENSE, False)
        for name in ("abstract-spiral", "blue-periwinkle", "oakland-zoo-otters", "perched-osprey")
    ),
    # Colour photos only (no drawings, no grey-scale test charts); lena and messi5, whose
    # rights are unclear, and baboon (USC-SIPI) are left out.
    *(
        (f"{_OPENCV}/{name}", _OPENCV_PKG, _OPENCV_LICENSE, False)
        for name in (
            "aloeL.jpg",
            "apple.jpg",
            "basketball1.png",
            "blox.jpg",
            "board.jpg",
            "butterfly.jpg",
            "ela_original.jpg",
            "fruits.jpg",
            "graf1.png",
            "licenseplate_motion.jpg",
            "orange.jpg",
            "pca_test1.jpg",
            "rubberwhale1.png",
            "smarties.png",
            "squirrel_cls.jpg",
            "stuff.jpg",
        )
    ),
)

#: The photos in scikit-image's wheel (a runtime dependency), with the licence its
#: ``skimage.data`` docstrings give: (file, licence, has sky).
_SKIMAGE_DIR = Path(skimage.data.__file__).parent
SKIMAGE_PHOTOS: tuple[tuple[str, str, bool], ...] = (
    ("rocket.jpg", "public domain (SpaceX)", True),
    ("astronaut.png", "public domain (NASA)", False),
    ("chelsea.png", "CC0-1.0", False),
    ("coffee.png", "CC0-1.0", False),
)

#: Sky-only wallpapers used as extra backgrounds for composites.
SKY_WALLPAPERS: tuple[tuple[str, str, str], ...] = (
    (f"{_LXQT}/cloud.png", _LXQT_PKG, _LXQT_LICENSE),
)


@dataclass(frozen=True)
class Photo:
    """One real photo: where it is, which source group it splits with, whether it has sky."""

    path: Path
    source: str
    license: str
    has_sky: bool

    @property
    def name(self) -> str:
        """The file name, or the wallpaper's name where the file is named by its size."""
        if self.path.parent.name == "images":
            return self.path.parents[2].name
        return self.path.name


def _shared_photos(folder: Path = PHOTO_DIR) -> list[Photo]:
    """Photos listed in ``SOURCES.md``; its ``sky`` column says yes / no / yes(small)."""
    table = folder / "SOURCES.md"
    if not table.is_file():
        return []
    photos = []
    for line in table.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5 or not cells[0].endswith(".jpg") or not (folder / cells[0]).is_file():
            continue
        name, sky, licence = cells[0], cells[2].lower(), cells[4]
        source = "shared-" + re.split(r"_", name)[0]
        photos.append(Photo(folder / name, source, licence, sky.startswith("yes")))
    return photos


def _weather_photos(folder: Path = WEATHER_DIR) -> list[Photo]:
    """The weather photos, one source per class (cloudy, rain, shine, sunrise)."""
    return [
        Photo(path, "weather-" + path.name.split("_")[0], WEATHER_LICENSE, True)
        for path in sorted(folder.glob("*.jpg"))
    ]


def _wallpaper_photos() -> list[Photo]:
    return [
        Photo(Path(path), f"debian-{package}", licence, has_sky)
        for path, package, licence, has_sky in WALLPAPERS
        if Path(path).is_file()
    ]


def _skimage_photos() -> list[Photo]:
    return [
        Photo(_SKIMAGE_DIR / name, "skimage", licence, has_sky)
        for name, licence, has_sky in SKIMAGE_PHOTOS
        if (_SKIMAGE_DIR / name).is_file()
    ]


def list_photos() -> list[Photo]:
    """Every available real photo (shared and weather photos, installed wallpapers and sample
    photos)."""
    return _shared_photos() + _weather_photos() + _wallpaper_photos() + _skimage_photos()


def split_photos(photos: list[Photo], *, held_out: bool) -> list[Photo]:
    """Training or held-out photos, split per (source, has-sky) group with the fixed seed."""
    groups: dict[tuple[str, bool], list[Photo]] = {}
    for photo in photos:
        groups.setdefault((photo.source, photo.has_sky), []).append(photo)
    chosen: list[Photo] = []
    for key in sorted(groups):
        chosen += split_items(groups[key], held_out=held_out)
    return chosen


def sky_wallpapers() -> list[Path]:
    """Installed sky-only wallpapers (composite backgrounds)."""
    return [Path(p) for p, _, _ in SKY_WALLPAPERS if Path(p).is_file()]


def read_photo(photo: Photo, *, long_side: int = LABEL_LONG_SIDE) -> np.ndarray:
    """The photo as uint8 RGB, area-downscaled to ``long_side`` at most."""
    rgb = skycore.read_image(photo.path)
    if rgb.dtype != np.uint8:
        rgb = (skycore.as_float_rgb(rgb) * 255.0 + 0.5).astype(np.uint8)
    scale = long_side / max(rgb.shape[:2])
    if scale < 1.0:
        size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return rgb


def label_for(photo: Photo, rgb: np.ndarray) -> np.ndarray:
    """A photo's training label: the teachers' refined label, or zeros for a no-sky photo."""
    if not photo.has_sky:
        return np.zeros(rgb.shape[:2], np.float32)
    return teacher_label(rgb)
