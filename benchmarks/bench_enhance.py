"""Enhance Sky against a known answer: low-light photos made from clean ones.

Each clean photo (well exposed, twilight, night or overcast sky, little noise) becomes a low-light
one the way a camera makes it: the scene lit by a 3500 K light while the camera is balanced for
daylight (the colour cast, applied in linear light), a photon budget of ``--photons`` at white
(Poisson shot noise) plus Gaussian read noise, the camera's gain bringing the exposure back,
8-bit output. :func:`skycore.enhance.enhance_sky` then gets the noisy photo and the clean photo's
sky mask, with its defaults, and is scored against the clean photo in the sky:

* noise: standard deviation of (result - clean), its mean removed, per channel; target -50 %;
* PSNR of the sky against the clean sky; target +3 dB;
* cast: CIEDE2000 between the mean sky colours of result and clean; target <= 3; "(cast)"
  with brightness and contrast off, the cast's removal alone (the night darkening of a clean
  night sky is a wanted change the clean photo does not have);
* foreground: mean absolute change (in 1/255) more than 16 px from any enhanced pixel;
  target <= 1.

Then the speed and peak memory at 12 MP (a photo enlarged to 4000x3000, in a fresh process so
its peak RSS is the enhancement's own). Needs scikit-image for CIEDE2000 (the [train] extra).

    python benchmarks/bench_enhance.py [--photons 60] [--size-only]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from skycore import sky_mask  # noqa: E402
from skycore.enhance import GAMMA, enhance_sky  # noqa: E402
from skycore.image import read_image  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
#: Clean photos: night and twilight phone photos with little noise (google/sky-optimization,
#: Apache-2.0), a night city and two overcast skies.
CLEAN = [
    SHARED / "photos" / "skyopt_193508_orig.jpg",
    SHARED / "photos" / "skyopt_204315_img.jpg",
    SHARED / "photos" / "skyopt_205707_orig.jpg",
    SHARED / "photos" / "skyopt_212918_orig_crop.jpg",
    SHARED / "photos" / "wikimedia_003.jpg",
    SHARED / "weather-photos" / "cloudy_test_1.jpg",
    SHARED / "weather-photos" / "cloudy_test_12.jpg",
]
#: Linear-light gains of a 3500 K light seen by a camera balanced for 6500 K (the Planckian
#: locus in linear sRGB: ln R/G +0.50, ln B/G -0.84), green kept as a camera's white balance
#: keeps it.
CAST = np.exp([0.503, 0.0, -0.842])
READ_NOISE = 1.5  # electrons, with --photons electrons at white


def low_light(clean: np.ndarray, photons: float, seed: int = 0) -> np.ndarray:
    """The clean uint8 photo as a low-light capture: cast, shot and read noise, 8 bits."""
    rng = np.random.default_rng(seed)
    linear = (clean.astype(np.float32) / 255) ** GAMMA * CAST.astype(np.float32)
    electrons = rng.poisson(np.clip(linear, 0, 1) * photons).astype(np.float32)
    electrons += rng.normal(0, READ_NOISE, linear.shape).astype(np.float32)
    linear = np.clip(electrons / photons, 0, 1)
    return np.rint(linear ** (1 / GAMMA) * 255).astype(np.uint8)


def sky_scores(result: np.ndarray, clean: np.ndarray, sky: np.ndarray) -> dict:
    from skimage.color import deltaE_ciede2000, rgb2lab

    result = result.astype(np.float64) / 255
    clean = clean.astype(np.float64) / 255
    residual = result[sky] - clean[sky]
    noise = float(np.mean(residual.std(axis=0)))
    psnr = float(10 * np.log10(1 / np.mean(residual**2)))
    mean_lab = [rgb2lab(image[sky].mean(axis=0)[None, None]) for image in (result, clean)]
    cast = float(deltaE_ciede2000(*mean_lab)[0, 0])
    return {"noise": noise * 255, "psnr": psnr, "delta_e": cast}


def far_foreground(alpha: np.ndarray, margin: int = 16) -> np.ndarray:
    reach = cv2.dilate((alpha > 0).astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8))
    return reach == 0


def quality(photons: float) -> list[dict]:
    rows = []
    for path in CLEAN:
        clean = read_image(path)
        mask = sky_mask(clean)
        noisy = low_light(clean, photons)
        result = enhance_sky(noisy, mask)
        sky = mask >= 0.98
        before = sky_scores(noisy, clean, sky)
        after = sky_scores(result.image, clean, sky)
        far = far_foreground(result.alpha)
        change = (
            float(np.abs(result.image[far].astype(np.int16) - noisy[far]).mean())
            if far.any()
            else float("nan")  # the sky reaches everywhere
        )
        cast_only = enhance_sky(noisy, mask, brightness=0, contrast=0)
        rows.append(
            {
                "photo": path.name,
                "before": before,
                "after": after,
                "noise_cut": 1 - after["noise"] / before["noise"],
                "psnr_gain": after["psnr"] - before["psnr"],
                "delta_e_cast_only": sky_scores(cast_only.image, clean, sky)["delta_e"],
                "foreground_change": change,
            }
        )
    return rows


def _peak_rss_mb(reset: bool = False) -> float:
    """The process's peak resident size (VmHWM); ``reset`` starts a new peak from now (a
    child inherits its parent's peak through fork, so ru_maxrss would report the parent's)."""
    if reset:
        Path("/proc/self/clear_refs").write_text("5")
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def size_run(photo: Path, mask_path: Path) -> None:
    """In a fresh process: time enhance_sky on a 12 MP photo given its mask; print JSON."""
    image = read_image(photo)
    mask = cv2.imread(str(mask_path), cv2.IMREAD_UNCHANGED)
    inputs = _peak_rss_mb(reset=True)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        enhance_sky(image, mask)
        times.append(time.perf_counter() - start)
    print(json.dumps({"seconds": times, "peak_rss_mb": _peak_rss_mb(), "inputs_rss_mb": inputs}))


def twelve_megapixels(photons: float) -> dict:
    clean = read_image(CLEAN[0])
    big = cv2.resize(clean, (3000, 4000), interpolation=cv2.INTER_CUBIC)
    mask = cv2.resize(sky_mask(clean), (3000, 4000), interpolation=cv2.INTER_LINEAR)
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "photo.png"
        mask_path = Path(folder) / "mask.png"
        cv2.imwrite(str(photo), cv2.cvtColor(low_light(big, photons), cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(mask_path), np.rint(mask * 65535).astype(np.uint16))
        output = subprocess.run(
            [sys.executable, __file__, "--size-run", str(photo), str(mask_path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return json.loads(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photons", type=float, default=60.0, help="electrons at white")
    parser.add_argument("--size-only", action="store_true", help="only the 12 MP timing")
    parser.add_argument("--size-run", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.size_run:
        size_run(*args.size_run)
        return
    if not args.size_only:
        print(
            f"low light: 3500 K cast, {args.photons:g} electrons at white, read noise "
            f"{READ_NOISE:g} e-; scores in the sky (mask >= 0.98)"
        )
        print(
            f"{'photo':30s} {'noise/255':>16s} {'cut':>5s} {'PSNR dB':>13s} {'gain':>5s} "
            f"{'dE2000':>11s} {'(cast)':>6s} {'fg change':>9s}"
        )
        rows = quality(args.photons)
        for row in rows:
            b, a = row["before"], row["after"]
            print(
                f"{row['photo']:30s} {b['noise']:7.2f} -> {a['noise']:5.2f} "
                f"{row['noise_cut']:5.0%} {b['psnr']:5.1f} -> {a['psnr']:5.1f} "
                f"{row['psnr_gain']:+5.1f} {b['delta_e']:4.1f} -> {a['delta_e']:4.1f} "
                f"{row['delta_e_cast_only']:6.1f} {row['foreground_change']:9.3f}"
            )
        print(
            f"{'mean':30s} {'':16s} {np.mean([r['noise_cut'] for r in rows]):5.0%} "
            f"{'':13s} {np.mean([r['psnr_gain'] for r in rows]):+5.1f} "
            f"{'':7s}{np.mean([r['after']['delta_e'] for r in rows]):4.1f} "
            f"{np.mean([r['delta_e_cast_only'] for r in rows]):6.1f} "
            f"{np.nanmax([r['foreground_change'] for r in rows]):9.3f} (max)"
        )
    size = twelve_megapixels(args.photons)
    seconds = ", ".join(f"{s:.2f}" for s in size["seconds"])
    print(
        f"12 MP (4000x3000 uint8, mask given): {seconds} s; peak RSS {size['peak_rss_mb']:.0f} MB "
        f"(inputs loaded: {size['inputs_rss_mb']:.0f} MB)"
    )


if __name__ == "__main__":
    main()
