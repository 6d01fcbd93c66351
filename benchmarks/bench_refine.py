"""Speed and peak memory of the refinement at about 1, 12 and 24 MP.

    python benchmarks/bench_refine.py [--repeat N] [--sizes 1,12,24] [--no-cli]

``skycore.refine`` is timed with the model's probability (320 x 320, as skycore predicts it)
and with the same probability upsampled to the photo's size (as other tools save masks), in
each mode. Each row runs in a fresh process, so its peak resident set size (RSS) is that of
one refinement plus the interpreter, the libraries, the photo and the probability. Then
``skycore refine PHOTO PROB.png -o OUT.png`` is timed file to file at 12 MP (decoding and
encoding included), beside the seed's C++ ``mask_refine`` measured on the same task.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEED_EVAL = REPO.parent / "shared" / "data" / "seed-eval"
SIZES = {1: (1152, 864), 12: (4000, 3000), 24: (5657, 4243)}
MODES = {
    "default": {},
    "density": {"colour_density": True},
    "cpp-compatible": {"cpp_compatible": True},
}
#: The yardstick, measured once (issue 17) on a 12 MP photo with a photo-sized probability:
#: the seed's C++ mask_refine built from its source, file in, file out.
SEED_CPP_12MP = "seed's C++ mask_refine, 12 MP file to file: 5.3-5.7 s, peak RSS 1.9 GB"


def _peak_rss_mb() -> float:
    """This process's own peak RSS (``VmHWM``; ``ru_maxrss`` would include the peak of the
    process that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _inputs(megapixels: int, photo_sized: bool):
    """The test photo at the size, and its model probability (optionally upsampled)."""
    import cv2
    import numpy as np

    sys.path.insert(0, str(REPO))
    from skycore import predict_probability

    width, height = SIZES[megapixels]
    photo = cv2.imread(str(SEED_EVAL / "test_850.jpg"))[..., ::-1]
    photo = np.ascontiguousarray(cv2.resize(photo, (width, height), interpolation=cv2.INTER_CUBIC))
    probability = predict_probability(photo)
    if photo_sized:
        probability = cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR)
    return photo, probability


def measure(megapixels: int, photo_sized: bool, repeat: int, options: dict) -> dict:
    """Child process: time ``refine`` ``repeat`` times; median, and peak RSS."""
    photo, probability = _inputs(megapixels, photo_sized)
    from skycore import refine

    before = _peak_rss_mb()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        refine(photo, probability, **options)
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "peak_rss_mb": _peak_rss_mb(), "before": before}


def _run_measured(command: list[str]) -> tuple[float, float]:
    """Wall time and the peak RSS (MB) of one child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode})")
    return seconds, usage.ru_maxrss / 1024


def bench_cli(repeat: int) -> None:
    """``skycore refine`` file to file at 12 MP, photo-sized and model-sized probability."""
    import cv2
    import numpy as np

    photo, probability = _inputs(12, photo_sized=False)
    height, width = photo.shape[:2]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        cv2.imwrite(str(folder / "photo.jpg"), photo[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        small = np.round(probability * 255).astype(np.uint8)
        full = cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(str(folder / "prob-320.png"), small)
        cv2.imwrite(str(folder / "prob-full.png"), np.round(full * 255).astype(np.uint8))
        for label, extra in (("", []), (" --cpp-compatible", ["--cpp-compatible"])):
            for prob in ("prob-320.png", "prob-full.png"):
                command = [
                    sys.executable, "-m", "skycore", "refine", str(folder / "photo.jpg"),
                    str(folder / prob), "-o", str(folder / "out.png"), *extra,
                ]  # fmt: skip
                runs = [_run_measured(command) for _ in range(repeat)]
                seconds = statistics.median(s for s, _ in runs)
                peak = max(m for _, m in runs)
                print(f"  skycore refine{label:18} {prob:14} {seconds:6.2f} s {peak:8.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="1,12,24")
    parser.add_argument("--no-cli", action="store_true", help="skip the file-to-file timing")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        megapixels, photo_sized, options = json.loads(args.child)
        print(json.dumps(measure(megapixels, photo_sized, args.repeat, options)))
        return
    print(f"skycore.refine, median of {args.repeat}; peak RSS of the whole process")
    print(f"{'size':>6} {'probability':12} {'mode':16} {'median s':>9} {'peak RSS MB':>12}")
    for megapixels in (int(s) for s in args.sizes.split(",")):
        for photo_sized in (False, True):
            for name, options in MODES.items():
                child = json.dumps([megapixels, photo_sized, options])
                command = [sys.executable, __file__, "--repeat", str(args.repeat), "--child", child]
                result = json.loads(
                    subprocess.run(command, capture_output=True, check=True, text=True).stdout
                )
                print(
                    f"{megapixels:>4}MP {'photo-sized' if photo_sized else '320 x 320':12} "
                    f"{name:16} {result['median_s']:9.3f} {result['peak_rss_mb']:12.0f}"
                )
    if not args.no_cli:
        print(
            f"\nfile to file at 12 MP (4000 x 3000 JPEG, 8-bit PNG probability), median of "
            f"{min(args.repeat, 3)}:"
        )
        bench_cli(min(args.repeat, 3))
        print(f"  yardstick: {SEED_CPP_12MP}")


if __name__ == "__main__":
    main()
