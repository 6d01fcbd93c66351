"""Whole photo -> sky mask path at 12 MP with the default model (or ``--model``): time, memory.

Target (issue 2): at most 1.0 s per 12 MP photo on 2 cores, model session already loaded.
The photo is a real one from ``../shared/data/photos`` enlarged to the requested size and
saved as a JPEG (quality 92) in a temporary folder. Timed, as medians over ``--repeat`` runs
after one warm-up run:

- each stage, on the photo as read (uint8): ``read_image``, ``predict_probability`` and its
  two parts (the model input: resize and normalisation; the onnxruntime session run),
  ``refine``, ``write_mask`` (8-bit PNG);
- ``sky_mask``: array in, mask out (what the GIMP plug-in calls);
- ``file -> file``: read + ``sky_mask`` + write, what ``skycore mask`` does per photo.

Each line shows the median and the fastest wall-clock time and the median CPU seconds (summed
over threads); on a loaded machine the CPU time shows what the work itself costs.

Peak RSS is measured in a fresh child process that runs file -> file once (``VmHWM``, which
includes the interpreter, libraries and the model session). The machine's load
average is printed too: timings on a shared machine are only comparable at similar load.

Run from the repository root, with skycore installed (``pip install -e .``) or on
``PYTHONPATH``::

    PYTHONPATH=. python benchmarks/bench_pipeline.py [--model ID] [--threads 2] [--repeat 5]
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

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PHOTO = SHARED / "data" / "photos" / "skyopt_204315_img.jpg"


def _make_photo(folder: Path, megapixels: float) -> Path:
    """Enlarge the benchmark photo to about ``megapixels`` and save it as a JPEG."""
    import cv2

    photo = cv2.imread(str(PHOTO))
    height, width = photo.shape[:2]
    factor = (megapixels * 1e6 / (height * width)) ** 0.5
    size = (round(width * factor), round(height * factor))
    path = folder / f"photo_{megapixels:g}mp.jpg"
    cv2.imwrite(
        str(path),
        cv2.resize(photo, size, interpolation=cv2.INTER_CUBIC),
        [cv2.IMWRITE_JPEG_QUALITY, 92],
    )
    return path


def _file_to_file(photo: Path, output: Path, model: str | None) -> None:
    from skycore import read_image, sky_mask, write_mask

    write_mask(output, sky_mask(read_image(photo), model=model))


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM) in MB.

    Not ``ru_maxrss``: Linux carries that over from the parent across fork and exec, so a
    child started by a big parent would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _peak_child(photo: str, output: str, model: str | None) -> None:
    """Child process: run file -> file once and print peak RSS in MB as JSON."""
    import skycore  # noqa: F401  (libraries loaded before the baseline is taken)

    before = _peak_rss_mb()
    _file_to_file(Path(photo), Path(output), model)
    print(json.dumps({"before_mb": before, "peak_mb": _peak_rss_mb()}))


def _seconds(function, repeat: int) -> tuple[float, float, float]:
    """Median and fastest wall-clock, and median CPU seconds (all threads) of ``function()``."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), min(wall), statistics.median(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory run")
    parser.add_argument("--model", help="model id or .onnx path (default: the default model)")
    args = parser.parse_args()

    # Before onnxruntime and OpenCV start their thread pools.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import cv2

    cv2.setNumThreads(args.threads)
    from skycore import find_model, predict_probability, read_image, refine, sky_mask, write_mask
    from skycore.inference import preprocess
    from skycore.sessions import get_session

    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        photo_path = _make_photo(folder, args.megapixels)
        output = folder / "mask.png"
        model = args.model
        _file_to_file(photo_path, output, model)  # warm-up: loads and verifies the model
        photo = read_image(photo_path)
        spec = find_model(model)
        session = get_session(spec)
        tensor = preprocess(photo, spec)
        probability = predict_probability(photo, model=model)
        mask = refine(photo, probability)
        height, width = photo.shape[:2]
        print(
            f"photo {width}x{height} ({height * width / 1e6:.1f} MP), model {spec.id}, input "
            f"{probability.shape[1]}x{probability.shape[0]}, {args.threads} threads, "
            f"median of {args.repeat}"
        )
        stages = {
            "read_image (JPEG decode)": lambda: read_image(photo_path),
            "predict_probability": lambda: predict_probability(photo, model=model),
            "  model input (resize)": lambda: preprocess(photo, spec),
            "  session run": lambda: session.run([spec.output_name], {spec.input_name: tensor}),
            "refine": lambda: refine(photo, probability),
            "write_mask (8-bit PNG)": lambda: write_mask(output, mask),
            "sky_mask (array -> mask)": lambda: sky_mask(photo, model=model),
            "file -> file (skycore mask)": lambda: _file_to_file(photo_path, output, model),
        }
        print(f"  {'':30s} {'wall':>7s} {'fastest':>7s} {'CPU':>7s}")
        for name, function in stages.items():
            wall, fastest, cpu = _seconds(function, args.repeat)
            print(f"  {name:30s} {wall:6.3f}s {fastest:6.3f}s {cpu:6.3f}s")
        if not args.no_memory:
            code = (
                f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'benchmarks')!r}]; "
                f"import bench_pipeline; "
                f"bench_pipeline._peak_child({str(photo_path)!r}, {str(output)!r}, {model!r})"
            )
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
            result = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
            )
            memory = json.loads(result.stdout.strip().splitlines()[-1])
            print(
                f"  peak RSS, file -> file: {memory['peak_mb']:.0f} MB "
                f"(after imports {memory['before_mb']:.0f} MB)"
            )
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
