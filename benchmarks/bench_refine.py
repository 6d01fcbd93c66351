"""Speed and peak memory of the refinement at about 1, 12 and 24 MP.

    python benchmarks/bench_refine.py [--repeat N] [--sizes 1,12,24]

Each size runs in a fresh process, so the peak resident set size (RSS) it reports is that of
one refinement (plus the Python interpreter, the libraries and the input photo). The input is
a real photo from ../shared resized to the size, with its network probability at 448 x 320.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEED_EVAL = REPO.parent / "shared" / "data" / "seed-eval"
SIZES = {1: (1152, 864), 12: (4000, 3000), 24: (5657, 4243)}


def _peak_rss_mb() -> float:
    """This process's own peak resident set size (``VmHWM``; ``ru_maxrss`` would include the
    peak of the process that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(megapixels: int, repeat: int, options: dict) -> dict:
    """Run in a child process: time ``refine`` ``repeat`` times, report median and peak RSS."""
    import cv2
    import numpy as np

    sys.path.insert(0, str(REPO))
    from skycore import refine

    width, height = SIZES[megapixels]
    photo = cv2.imread(str(SEED_EVAL / "test_850.jpg"))[..., ::-1]
    photo = np.ascontiguousarray(cv2.resize(photo, (width, height), interpolation=cv2.INTER_CUBIC))
    probability = cv2.imread(str(SEED_EVAL / "test_850.png"), cv2.IMREAD_GRAYSCALE)
    probability = cv2.resize(probability, (320, 448), interpolation=cv2.INTER_AREA) / 255.0
    probability = probability.astype(np.float32)
    baseline = _peak_rss_mb()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        refine(photo, probability, **options)
        times.append(time.perf_counter() - start)
    peak = _peak_rss_mb()
    return {"median_s": statistics.median(times), "peak_rss_mb": peak, "before_mb": baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", default="1,12,24")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        megapixels, options = json.loads(args.child)
        print(json.dumps(measure(megapixels, args.repeat, options)))
        return
    variants = {
        "default": {},
        "density": {"density": True},
        "seed-compatible": {"seed_compatible": True},
    }
    print(f"{'size':>6} {'mode':16} {'median s':>9} {'peak RSS MB':>12} {'(before) MB':>12}")
    for megapixels in (int(s) for s in args.sizes.split(",")):
        for name, options in variants.items():
            child = json.dumps([megapixels, options])
            command = [sys.executable, __file__, "--repeat", str(args.repeat), "--child", child]
            result = json.loads(
                subprocess.run(command, capture_output=True, check=True, text=True).stdout
            )
            print(
                f"{megapixels:>4}MP {name:16} {result['median_s']:9.3f} "
                f"{result['peak_rss_mb']:12.0f} {result['before_mb']:12.0f}"
            )


if __name__ == "__main__":
    main()
