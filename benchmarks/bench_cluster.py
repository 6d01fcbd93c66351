"""Batches on a Dask cluster (``--scheduler``) against the local ``--jobs`` path, on this machine.

Prints

1. photos/s of ``skycore mask`` on the same photos (``--photos`` of ``--megapixels`` MP, made
   from ``../shared/data/photos``): local ``--jobs 1`` and ``--jobs 2``, and a local Dask
   cluster of 1 and 2 workers. A worker is one process with one thread and its share of the
   cores (``OMP_NUM_THREADS`` = cores / workers), as a process of a local ``--jobs`` run; the
   workers are warmed up by a short batch first, as a long-lived cluster's are. Every run is
   a fresh ``skycore`` process, so each figure includes its start (about a second). The
   cluster's masks are checked to be the bytes of the local ones;
2. the client's peak memory (``VmHWM`` of a fresh ``skycore mask`` process) for a batch of
   ``--small`` synthetic 64x48 PNGs and for a tenth of it, against 2 workers: the window of
   photos in flight keeps it flat. The small batch uses the fast ``ege`` model: compute
   time does not change what the client holds;
3. the scheduler's CPU time per task, measured over that batch, and, from the measured bytes
   in and out per photo and seconds per photo per worker, what 100 such workers would ask
   of the scheduler (tasks/s, CPU) and of its network: photos travel inside their tasks and
   results come back through the scheduler, so every byte passes it.

Run from the repository root (Linux; needs the ``[cluster]`` extra)::

    python benchmarks/bench_cluster.py [--photos 24] [--megapixels 1] [--small 2000]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PHOTOS = SHARED / "data" / "photos"
MODEL = SHARED / "models" / "skyseg-u2netp.onnx"
FAST_MODEL = SHARED / "models" / "skyseg-ege.onnx"
#: The worker count of the estimate.
ESTIMATE_WORKERS = 100


def _make_photos(folder: Path, count: int, megapixels: float) -> list[Path]:
    """``count`` photos of about ``megapixels`` MP, resized from the shared ones."""
    import cv2

    sources = sorted(PHOTOS.glob("*.jpg"))
    folder.mkdir()
    made = []
    for index in range(count):
        image = cv2.imread(str(sources[index % len(sources)]))
        scale = (megapixels * 1e6 / (image.shape[0] * image.shape[1])) ** 0.5
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        path = folder / f"photo_{index:03d}.jpg"
        cv2.imwrite(str(path), cv2.resize(image, size, interpolation=cv2.INTER_AREA))
        made.append(path)
    return made


def _make_small_photos(folder: Path, count: int) -> list[Path]:
    """``count`` 64x48 PNGs: a blue sky over noise."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    folder.mkdir()
    made = []
    for index in range(count):
        image = rng.integers(0, 120, (48, 64, 3), dtype=np.uint8)
        image[:20] = (230, 180, 120)
        path = folder / f"small_{index:05d}.png"
        cv2.imwrite(str(path), image)
        made.append(path)
    return made


def _skycore(*argv: object) -> float:
    """Run ``skycore`` in a fresh process; its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "skycore", *map(str, argv)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def _client_peak_mb(*argv: object) -> float:
    """Peak RSS of a fresh process that runs ``skycore`` with these arguments, in MB."""
    code = (
        "import sys\nfrom pathlib import Path\nfrom skycore.cli import main\n"
        "status = main(sys.argv[1:])\nassert status == 0, status\n"
        "line = next(l for l in Path('/proc/self/status').read_text().splitlines()"
        " if l.startswith('VmHWM'))\nprint(int(line.split()[1]) / 1024)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, argv)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(result.stdout.split()[-1])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Cluster:
    """A scheduler and ``workers`` one-thread workers on 127.0.0.1."""

    def __init__(self, workers: int):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        self.processes = [
            self._start(
                {}, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"
            )
        ]
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for _ in range(workers):
            self.processes.append(
                self._start(
                    {"OMP_NUM_THREADS": threads},
                    "worker",
                    self.address,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                )
            )
        from distributed import Client

        with Client(self.address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=60)

    @property
    def scheduler_pid(self) -> int:
        return self.processes[0].pid

    @staticmethod
    def _start(env: dict, *argv: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *argv],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=24, help="photos of the speed runs")
    parser.add_argument("--megapixels", type=float, default=1.0, help="their size")
    parser.add_argument("--small", type=int, default=2000, help="photos of the memory run")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    photos = _make_photos(work / "photos", args.photos, args.megapixels)
    mask = ("mask", *photos, "--model", MODEL)

    print(f"{args.photos} photos of {args.megapixels:g} MP, {os.cpu_count()} cores")
    rates = {}
    for jobs in (1, 2):
        seconds = _skycore(*mask, "-o", work / f"local-{jobs}", "--jobs", jobs)
        rates[f"local --jobs {jobs}"] = args.photos / seconds
    for workers in (1, 2):
        with Cluster(workers) as cluster:
            _skycore(
                "mask",
                *photos[:2],
                "--model",
                MODEL,
                "-o",
                work / f"warm-{workers}",
                "--scheduler",
                cluster.address,
            )
            out = work / f"cluster-{workers}"
            seconds = _skycore(*mask, "-o", out, "--scheduler", cluster.address)
        rates[f"cluster, {workers} worker(s)"] = args.photos / seconds
        same = all(
            (out / p.name).read_bytes() == (work / "local-1" / p.name).read_bytes()
            for p in (work / "local-1").iterdir()
        )
        assert same, f"cluster-{workers} wrote other bytes than the local run"
    for name, rate in rates.items():
        print(f"  {name:<24} {rate:5.2f} photos/s")
    print("  (cluster masks: the same bytes as local --jobs 1)")

    small = _make_small_photos(work / "small", args.small)
    tenth = small[: max(1, args.small // 10)]
    with Cluster(2) as cluster:
        fast = ("--model", FAST_MODEL, "--scheduler", cluster.address)
        peak_tenth = _client_peak_mb("mask", *tenth, "-o", work / "small-tenth", *fast)
        cpu_before = _cpu_seconds(cluster.scheduler_pid)
        start = time.perf_counter()
        peak_all = _client_peak_mb("mask", *small, "-o", work / "small-all", *fast)
        small_seconds = time.perf_counter() - start
        scheduler_cpu = (_cpu_seconds(cluster.scheduler_pid) - cpu_before) / len(small)
    print(f"\nclient peak RSS, 64x48 PNGs, 2 workers ({FAST_MODEL.stem} model):")
    print(f"  {len(tenth):>5} photos: {peak_tenth:6.1f} MB")
    rate = len(small) / small_seconds
    print(f"  {len(small):>5} photos: {peak_all:6.1f} MB ({rate:.0f} photos/s)")
    print(f"  scheduler CPU per task: {scheduler_cpu * 1e3:.2f} ms")

    bytes_in = sum(p.stat().st_size for p in photos) / len(photos)
    bytes_out = sum(p.stat().st_size for p in (work / "local-1").iterdir()) / len(photos)
    per_worker = rates["cluster, 2 worker(s)"] / 2
    tasks = ESTIMATE_WORKERS * per_worker
    through = tasks * (bytes_in + bytes_out)
    print(
        f"\nestimate for {ESTIMATE_WORKERS} workers like these ({1 / per_worker:.2f} s per "
        f"{args.megapixels:g} MP photo each; {bytes_in / 1e3:.0f} kB in, "
        f"{bytes_out / 1e3:.0f} kB out per photo):"
    )
    print(f"  scheduler: {tasks:.0f} tasks/s, {tasks * scheduler_cpu:.2f} s of CPU per second")
    print(
        f"  network: {through / 1e6:.1f} MB/s through the scheduler each way "
        f"({tasks * bytes_in / 1e6:.1f} MB/s of photos, {tasks * bytes_out / 1e6:.1f} MB/s "
        "of masks); the client reads and writes the same"
    )


if __name__ == "__main__":
    main()
