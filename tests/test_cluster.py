"""Batches on a real Dask cluster (``--scheduler``): a scheduler and worker processes on this
machine, workers killed and the scheduler stopped in the middle of a batch."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from skycore.errors import ModelError
from skycore.registry import find_model

pytest.importorskip("distributed")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PHOTOS = SHARED / "data" / "photos"
SKY = SHARED / "data" / "skies" / "skyar_sunset.jpg"
U2NETP = SHARED / "models" / "skyseg-u2netp.onnx"
MASKED = ("wikimedia_010.jpg", "wikimedia_036.jpg", "kodak_kodim21.jpg")
NIGHT = "skyopt_200714_orig.jpg"
#: Long side of the small photos of the fault tests: a batch of them takes seconds.
SMALL_SIDE = 320


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalCluster:
    """A ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1.

    Workers run without a nanny, so a worker's pid is the process that computes: killing it
    is a worker dying mid-photo. Each has one thread and OMP_NUM_THREADS=1, as the processes
    of a local ``--jobs 2`` run.
    """

    def __init__(self, workers: int):
        self.address = f"tcp://127.0.0.1:{_free_port()}"
        self.scheduler = self._start("scheduler", "--host", "127.0.0.1", "--port",
                                     self.address.rsplit(":", 1)[1], "--no-dashboard")  # fmt: skip
        self.workers: list[subprocess.Popen] = []
        for _ in range(workers):
            self.start_worker()
        self.wait_for_workers(workers)

    def _start(self, *argv: str) -> subprocess.Popen:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *argv],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start_worker(self) -> None:
        self.workers.append(
            self._start("worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard")
        )

    def wait_for_workers(self, count: int, timeout: float = 60) -> None:
        from distributed import Client

        with Client(self.address, timeout=timeout, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=timeout)

    def kill_worker(self) -> None:
        worker = self.workers.pop(0)
        worker.send_signal(signal.SIGKILL)
        worker.wait()

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process.poll() is None:
                process.kill()
            process.wait()


@pytest.fixture(scope="module")
def cluster():
    started = LocalCluster(workers=2)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def small_photos(tmp_path_factory) -> list[Path]:
    """16 photos of SMALL_SIDE pixels, made from the shared ones."""
    folder = tmp_path_factory.mktemp("small-photos")
    sources = sorted(PHOTOS.glob("wikimedia_0*.jpg"))[:16]
    for index, source in enumerate(sources):
        image = cv2.imread(str(source))
        scale = SMALL_SIDE / max(image.shape[:2])
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"small_{index:02d}.jpg"), small)
    return sorted(folder.iterdir())


def _when_first_file(folder: Path, action) -> threading.Thread:
    """Run ``action`` in a thread as soon as a finished file lies in ``folder``."""

    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if folder.is_dir() and any(p.suffix == ".png" for p in folder.iterdir()):
                action()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def _check_masks(out_dir: Path, photos: list[Path]) -> None:
    """One complete mask the size of each photo, and no partial file."""
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(f"{p.stem}.png" for p in photos)
    for photo in photos:
        mask = cv2.imread(str(out_dir / f"{photo.stem}.png"), cv2.IMREAD_UNCHANGED)
        assert mask is not None and mask.dtype == np.uint8
        assert mask.shape == cv2.imread(str(photo)).shape[:2]


def test_cluster_writes_the_bytes_of_a_local_run(cluster, tmp_path, cli):
    photos = [PHOTOS / name for name in MASKED]
    folder = tmp_path / "to-replace"
    folder.mkdir()
    shutil.copy(PHOTOS / "kodak_kodim09.jpg", folder)
    runs = {
        "mask": ("mask", *photos, "--model", U2NETP),
        "enhance": ("enhance", PHOTOS / NIGHT, "--model", U2NETP),
        "replace": ("replace", folder, "--sky", SKY, "--save-mask", "--model", U2NETP),
    }
    for name, argv in runs.items():
        local, remote = tmp_path / f"{name}-local", tmp_path / f"{name}-cluster"
        assert cli(*argv, "-o", local)[0] == 0
        status, out, err = cli(*argv, "-o", remote, "--scheduler", cluster.address)
        assert (status, err) == (0, ""), err
        assert "written to" in out
        files = sorted(p.name for p in local.iterdir())
        assert files == sorted(p.name for p in remote.iterdir()) and files
        for file in files:
            assert (local / file).read_bytes() == (remote / file).read_bytes(), file


def test_bad_photo_is_listed(cluster, small_photos, tmp_path, cli):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    missing = tmp_path / "missing.jpg"
    argv = ("mask", small_photos[0], bad, missing, small_photos[1], "-o", tmp_path / "out")
    status, out, err = cli(*argv, "--model", U2NETP, "--scheduler", cluster.address)
    assert status == 1
    assert "2 mask(s) written" in out
    assert err.splitlines() == [
        "skycore: 2 of 4 photo(s) failed:",
        f"  {bad}: not an image, or the file is corrupt or truncated",
        f"  {missing}: no such file",
    ]
    _check_masks(tmp_path / "out", small_photos[:2])


def test_a_worker_killed_mid_batch_loses_nothing(cluster, small_photos, tmp_path, cli):
    out_dir = tmp_path / "out"
    masks_at_kill: list[int] = []

    def kill() -> None:
        masks_at_kill.append(len(list(out_dir.glob("*.png"))))
        cluster.kill_worker()

    watcher = _when_first_file(out_dir, kill)
    status, out, err = cli(
        "mask", *small_photos, "-o", out_dir, "--model", U2NETP,
        "--scheduler", cluster.address,
    )  # fmt: skip
    watcher.join()
    assert masks_at_kill and masks_at_kill[0] < len(small_photos)  # killed during the batch
    assert (status, err) == (0, ""), err
    assert f"{len(small_photos)} mask(s) written" in out
    _check_masks(out_dir, small_photos)
    cluster.start_worker()
    cluster.wait_for_workers(2)


def test_scheduler_lost_mid_batch_then_rerun_resumes(cluster, small_photos, tmp_path, cli):
    doomed = LocalCluster(workers=1)
    out_dir = tmp_path / "out"
    try:
        watcher = _when_first_file(out_dir, doomed.scheduler.kill)
        argv = ("mask", *small_photos, "-o", out_dir, "--model", U2NETP)
        status, out, err = cli(*argv, "--scheduler", doomed.address)
        watcher.join()
    finally:
        doomed.stop()
    assert status == 2
    assert err == (
        f"skycore: error: lost the connection to the Dask scheduler at {doomed.address}; the "
        "files written are complete: run the same command again to do the rest\n"
    )
    done = [p for p in small_photos if (out_dir / f"{p.stem}.png").exists()]
    assert 1 <= len(done) < len(small_photos)
    _check_masks(out_dir, done)

    status, out, err = cli(*argv, "--scheduler", cluster.address)
    assert (status, err) == (0, ""), err
    assert f"{len(small_photos) - len(done)} mask(s) written" in out
    assert f"{len(done)} skipped because they exist" in out
    _check_masks(out_dir, small_photos)


def test_unreachable_scheduler_is_one_line(monkeypatch, tmp_path, cli):
    monkeypatch.setattr("skycore.cli.cluster.CONNECT_TIMEOUT_S", 1)
    address = f"tcp://127.0.0.1:{_free_port()}"
    argv = ("mask", PHOTOS / MASKED[0], "-o", tmp_path, "--model", U2NETP)
    status, _, err = cli(*argv, "--scheduler", address)
    assert status == 2
    assert err.startswith(f"skycore: error: cannot reach the Dask scheduler at {address}: ")
    assert len(err.splitlines()) == 1


def test_without_dask_scheduler_says_what_to_install(monkeypatch, tmp_path, cli):
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    monkeypatch.delitem(sys.modules, "skycore.cli.cluster", raising=False)
    monkeypatch.delattr("skycore.cli.cluster", raising=False)
    argv = ("mask", PHOTOS / MASKED[0], "-o", tmp_path, "--model", U2NETP)
    status, _, err = cli(*argv, "--scheduler", "tcp://127.0.0.1:8786")
    assert status == 2
    assert err == (
        "skycore: error: --scheduler needs Dask, which is not installed: "
        "pip install 'skycore[cluster]'\n"
    )


def test_scheduler_with_jobs_or_a_bad_address_is_refused(tmp_path, cli):
    argv = ("mask", PHOTOS / MASKED[0], "-o", tmp_path)
    status, _, err = cli(*argv, "--jobs", "2", "--scheduler", "tcp://127.0.0.1:8786")
    assert (status, err) == (
        2, "skycore: error: --jobs is for a local run; with --scheduler the workers set it\n"
    )  # fmt: skip
    status, _, err = cli(*argv, "--scheduler", "localhost")
    assert status == 2 and "expected a Dask scheduler address such as tcp://HOST:8786" in err


def test_worker_finds_the_model_installed_under_its_id(isolated_models, tmp_path):
    from skycore.cli.cluster import model_on_worker

    # The client's model at a path this "worker" does not have.
    elsewhere = dataclasses.replace(find_model(U2NETP), path=tmp_path / "not-here.onnx")
    with pytest.raises(ModelError, match="install it on every worker"):
        model_on_worker(elsewhere)
    shutil.copy(U2NETP, isolated_models)
    shutil.copy(U2NETP.parent / "models.json", isolated_models)
    assert model_on_worker(elsewhere).path == isolated_models / U2NETP.name
