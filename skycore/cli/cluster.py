"""Batches on a Dask cluster: the ``--scheduler tcp://HOST:PORT`` of the batch subcommands.

The client (the machine that runs ``skycore``) reads each photo's file, sends its bytes to the
cluster, and writes the encoded files that come back, atomically, as a local run does; the
workers only compute (:meth:`~skycore.cli.batch.PhotoJob.compute`), so no shared filesystem
is needed. A worker needs skycore and the model: the model's file at the client's path, or
a model with the same id and checksum installed on the worker.

Only a window of photos is in flight at a time (twice the workers' threads, at least
:data:`MIN_IN_FLIGHT`): the next photo is read and sent as one comes back, so the client's
memory does not grow with the batch. A worker that dies takes nothing with it: the scheduler
runs its photos again elsewhere (a photo whose workers keep dying, three times by default:
the scheduler's ``distributed.scheduler.allowed-failures``, is listed as failed), and only the
client writes files. A scheduler that goes away ends the run with one error line; the files
written until then are complete, and the same command run again resumes.

This module imports Dask; it is imported only when ``--scheduler`` is given, so Dask stays an
optional extra (``pip install 'skycore[cluster]'``).
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import socket
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from distributed import Client, Future, KilledWorker, as_completed

from ..errors import ModelError, SkyCoreError
from ..registry import ModelSpec
from .batch import PHOTO_FAILURES, Computed, PhotoFiles, PhotoJob, failure_message

#: How long connecting to the scheduler may take before the run gives up, in seconds.
CONNECT_TIMEOUT_S = 15
#: Fewest photos kept in flight, however few threads the workers have.
MIN_IN_FLIGHT = 4
#: How often the window follows workers joining or leaving, in seconds.
WINDOW_REFRESH_S = 5.0


def run_on_cluster(
    todo: list[tuple[Path, Path]], job: PhotoJob, address: str, progress
) -> dict[int, str]:
    """Process every ``(photo, output)`` pair on the cluster at ``address``.

    Parameters
    ----------
    todo : list of (Path, Path)
        Photos and the outputs they write, as :func:`batch.plan_outputs` gives them.
    job : PhotoJob
        Reads and stores here, computes on the workers.
    address : str
        The scheduler, ``tcp://HOST:PORT``.
    progress : tqdm
        Advanced by one for each photo done.

    Returns
    -------
    dict
        Failure message by index into ``todo``.

    Raises
    ------
    SkyCoreError
        If the scheduler cannot be reached, is lost during the run, or a worker lacks the
        model.
    """
    with _quiet_dask(), _connected(address) as client:
        try:
            _wait_for_workers(client, address)
            _check_workers_have_model(client, job)
        except OSError:  # Dask's CommClosedError included
            raise _lost_scheduler(address) from None
        return _Batch(client, address, todo, job, progress).run()


@contextmanager
def _quiet_dask() -> Iterator[None]:
    """Keep Dask's own log lines off the terminal: what matters reaches the user as failures
    or as one error line, and a lost scheduler otherwise prints a screenful of tracebacks."""
    # Dask's logging configuration gives some of its loggers levels of their own.
    loggers = [logging.getLogger("distributed")] + [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name.startswith("distributed.")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            # A replace job carries its sky image, sent once; Dask warns above 10 MB.
            warnings.filterwarnings("ignore", message="Sending large graph")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextmanager
def _connected(address: str) -> Iterator[Client]:
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        problem = str(exc)
    except Exception as exc:  # something answered, but not as a Dask scheduler does
        problem = f"no Dask scheduler answers there ({type(exc).__name__})"
    else:
        problem = None
    if problem is not None:
        # The half-made client sits in a reference cycle: collected at exit, after Dask's
        # event loop has stopped, its close waits 30 s. Collected now, it closes at once.
        gc.collect()
        raise SkyCoreError(f"cannot reach the Dask scheduler at {address}: {problem}")
    try:
        yield client
    finally:
        # A client whose scheduler is gone has nothing to close but its own side.
        client.close(timeout=2)


class _Batch:
    """One cluster run: a window of photos in flight, results stored as they come."""

    def __init__(
        self, client: Client, address: str, todo: list[tuple[Path, Path]], job: PhotoJob, progress
    ):
        self.client, self.address, self.todo, self.job = client, address, todo, job
        self.progress = progress
        self.errors: dict[int, str] = {}
        self.pending = iter(enumerate(todo))
        self.in_flight: dict[Future, int] = {}
        self.run_id = uuid.uuid4().hex[:8]
        # The job (settings, model spec, replace's sky) goes to the cluster once, as a task
        # of its own rather than scattered data: if every worker holding it dies, the scheduler
        # computes it again from what it was sent.
        self.job_future = client.submit(
            _same_job, job, key=f"skycore-job-{self.run_id}", pure=False
        )
        self.window = MIN_IN_FLIGHT
        self.window_checked = 0.0

    def run(self) -> dict[int, str]:
        completed = as_completed(loop=self.client.loop)
        self._refresh_window()
        self._fill(completed)
        for future in completed:
            index = self.in_flight.pop(future)
            self._finish(index, future)
            del future  # the cluster frees a result once no client holds its future
            self._refresh_window()
            self._fill(completed)
        return self.errors

    def _refresh_window(self) -> None:
        """Twice the workers' threads, so a worker finds its next photo already there."""
        if time.monotonic() - self.window_checked < WINDOW_REFRESH_S:
            return
        if self.client.status != "running":
            raise _lost_scheduler(self.address)
        try:
            threads = sum(self.client.nthreads().values())
        except OSError:
            raise _lost_scheduler(self.address) from None
        self.window = max(MIN_IN_FLIGHT, 2 * threads)
        self.window_checked = time.monotonic()

    def _fill(self, completed: as_completed) -> None:
        """Read and send photos until the window is full or none is left."""
        while len(self.in_flight) < self.window:
            next_photo = next(self.pending, None)
            if next_photo is None:
                return
            index, (photo, output) = next_photo
            try:
                files = self.job.read(photo, output)
            except PHOTO_FAILURES as exc:
                self.errors[index] = failure_message(photo, exc)
                self.progress.update()
                continue
            if self.client.status != "running":
                raise _lost_scheduler(self.address)
            future = self.client.submit(
                _compute_on_worker,
                self.job_future,
                files,
                output,
                key=f"skycore-{index}-{self.run_id}",
                pure=False,
            )
            self.in_flight[future] = index
            completed.add(future)

    def _finish(self, index: int, future: Future) -> None:
        photo, output = self.todo[index]
        self.progress.set_postfix_str(photo.name)
        if future.status == "cancelled":
            # The client cancels every future when it loses the scheduler.
            raise _lost_scheduler(self.address)
        if future.status == "error" and isinstance(future.exception(), KilledWorker):
            self.errors[index] = f"{photo}: every worker that computed it died (out of memory?)"
        else:
            outcome = future.result()  # an error other than the photo's own is a bug
            if isinstance(outcome, str):
                self.errors[index] = outcome
            else:
                try:
                    self.job.store(outcome, output)
                except PHOTO_FAILURES as exc:
                    self.errors[index] = failure_message(photo, exc)
        self.progress.update()


def _lost_scheduler(address: str) -> SkyCoreError:
    return SkyCoreError(
        f"lost the connection to the Dask scheduler at {address}; the files written are "
        "complete: run the same command again to do the rest"
    )


def _same_job(job: PhotoJob) -> PhotoJob:
    """The job itself: a task whose result every photo task of the run depends on."""
    return job


def _compute_on_worker(job: PhotoJob, files: PhotoFiles, output: Path) -> Computed | str:
    """One photo's encoded files, or why it failed (runs on a worker)."""
    _cap_opencv_threads()
    model = job.settings.get("model")
    if isinstance(model, ModelSpec):
        try:
            here = model_on_worker(model)
        except ModelError as exc:
            return failure_message(files.photo, exc)
        if here is not model:
            job = job.with_model(here)
    return job.compute_or_failure(files, output)


@functools.cache
def _cap_opencv_threads() -> None:
    """Give OpenCV the worker's ``OMP_NUM_THREADS`` (which onnxruntime's session follows; Dask's
    nanny sets it to 1) so that several workers on one machine share its cores as the
    processes of a local ``--jobs`` run do, instead of each using all of them."""
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        import cv2

        cv2.setNumThreads(int(threads))


@functools.lru_cache(maxsize=8)
def model_on_worker(model: ModelSpec) -> ModelSpec:
    """The client's model as this machine has it: the file at the client's path if it is
    here, else the model of the same id installed here, if its checksum is the same.

    Raises
    ------
    ModelError
        If neither is here.
    """
    from ..registry import find_model

    if model.path.is_file():
        return model
    try:
        installed = find_model(model.id)
    except ModelError:
        installed = None
    if installed is None or installed.sha256 != model.sha256:
        raise ModelError(
            f"model {model.id!r} is not on the worker's machine {socket.gethostname()}: "
            f"neither {model.path} nor an installed model with that id and checksum; install "
            "it on every worker"
        )
    return installed


def _wait_for_workers(client: Client, address: str) -> None:
    """Return once the cluster has a worker, saying why the run waits if it has none."""
    if client.nthreads():
        return
    print(f"skycore: waiting for a worker to join the scheduler at {address}", file=sys.stderr)
    client.wait_for_workers(1)


def _check_workers_have_model(client: Client, job: PhotoJob) -> None:
    """Stop before any photo is sent if a worker lacks the model (workers joining later are
    checked photo by photo)."""
    model = job.settings.get("model")
    if not isinstance(model, ModelSpec):
        return
    answers = client.run(model_on_worker, model, on_error="return")
    missing = [
        f"worker {worker}: {answer}"
        for worker, answer in answers.items()
        if isinstance(answer, Exception)
    ]
    if missing:
        raise SkyCoreError("; ".join(missing))
