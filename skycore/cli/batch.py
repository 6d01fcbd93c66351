"""The batch plumbing the photo subcommands share: output planning, the run, the report.

A subcommand turns its arguments into ``(photo, output)`` pairs with :func:`plan_outputs`
(refusing two photos that would write one file, skipping outputs that exist), hands a
:class:`PhotoJob` that processes one pair to :func:`run_batch` (a progress bar, optionally
several processes, or the workers of a Dask cluster) and ends with :func:`report`, which prints
the summary and the failures and gives the exit status.

A :class:`PhotoJob` works in three steps so that the middle one can run on another machine:
``read`` the photo's file (and its mask's) as bytes, ``compute`` the encoded output files from
those bytes alone, ``store`` them atomically. A local run does all three in one process; a
cluster run (:mod:`skycore.cli.cluster`) reads and stores on the client and computes on the
workers, with the same code, so both write the same bytes.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

from .. import options
from ..errors import SkyCoreError

if TYPE_CHECKING:
    from ..registry import ModelSpec

#: The failures a photo can cause (unreadable or unusable file, no room to write, out of
#: memory): reported so a batch can go on. Anything else is a bug and propagates.
PHOTO_FAILURES = (SkyCoreError, OSError, MemoryError)


@dataclass(frozen=True)
class PhotoFiles:
    """The files of one photo as bytes: what :meth:`PhotoJob.compute` needs of it.

    ``photo`` and ``mask`` are the client's paths, used for error messages only: a worker
    on another machine never opens them.
    """

    photo: Path
    data: bytes
    mask: Path | None = None
    mask_data: bytes | None = None


@dataclass(frozen=True)
class Computed:
    """The encoded files one photo gives, by the path each goes to."""

    files: dict[Path, bytes]


class PhotoJob:
    """A subcommand's work on one photo with the run's settings; picklable, so it can run in
    another process or on a cluster's worker.

    Subclasses set ``settings`` (the task's options; ``settings["model"]`` is the
    :class:`~skycore.registry.ModelSpec` when a model is needed) and implement
    :meth:`compute`.
    """

    settings: dict

    def read(self, photo: Path, output: Path) -> PhotoFiles:
        """The photo's file as bytes (on the client)."""
        from ..image import read_file

        return PhotoFiles(photo, read_file(photo))

    def compute(self, files: PhotoFiles, output: Path) -> Computed:
        """The output files of one photo from its bytes alone (anywhere).

        ``output`` names the result: its suffix picks the format; nothing is written.
        """
        raise NotImplementedError

    def store(self, computed: Computed, output: Path) -> None:
        """Write the computed files, each atomically (on the client)."""
        from ..image import write_atomically

        for path, data in computed.files.items():
            write_atomically(path, data)

    def compute_or_failure(self, files: PhotoFiles, output: Path) -> Computed | str:
        """:meth:`compute`, or the failure message of a photo that cannot be processed."""
        try:
            return self.compute(files, output)
        except PHOTO_FAILURES as exc:
            return failure_message(files.photo, exc)

    def with_model(self, model: ModelSpec) -> PhotoJob:
        """A copy of this job computing with ``model`` (the same model found elsewhere)."""
        job = copy.copy(self)
        job.settings = {**self.settings, "model": model}
        return job

    def __call__(self, photo: Path, output: Path) -> str | None:
        """Process one photo here, start to end; return why it failed, or None."""
        try:
            computed = self.compute(self.read(photo, output), output)
            self.store(computed, output)
        except PHOTO_FAILURES as exc:
            return failure_message(photo, exc)
        return None


def failure_message(photo: Path, exc: BaseException) -> str:
    """One line for the failure list, naming the photo once."""
    if isinstance(exc, MemoryError):
        return f"{photo}: not enough memory"
    message = str(exc)
    return message if str(photo) in message else f"{photo}: {message}"


def plan_outputs(
    photos: list[Path], out_dir: Path, suffix: str, *, overwrite: bool, noun: str
) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """``(photo, out_dir/<photo stem><suffix>)`` pairs to compute, and the photos skipped
    because their output exists (unless ``overwrite``).

    Raises
    ------
    SkyCoreError
        If two photos would write the same output.
    """
    by_output: dict[Path, list[Path]] = {}
    for photo in dict.fromkeys(photos):
        by_output.setdefault(out_dir / f"{photo.stem}{suffix}", []).append(photo)
    clashes = [f"{', '.join(map(str, p))} -> {out}" for out, p in by_output.items() if len(p) > 1]
    if clashes:
        raise SkyCoreError(
            f"photos with the same name would write the same {noun}: " + "; ".join(clashes)
        )
    todo, skipped = [], []
    for output, (photo,) in by_output.items():
        if output.exists() and not overwrite:
            skipped.append(photo)
        else:
            todo.append((photo, output))
    return todo, skipped


def checked_settings(args, table: tuple, *, need_model: bool = True) -> dict:
    """The task's options from the parsed arguments, checked; the model found and verified
    (a tampered model stops the run before any photo) when ``need_model``."""
    from ..registry import find_model
    from ..sessions import verify_model

    try:
        settings = options.validate(table, options.from_arguments(args, table))
    except ValueError as exc:
        raise SkyCoreError(str(exc)) from None
    if need_model:
        settings["model"] = find_model(settings["model"])
        verify_model(settings["model"])
    return settings


def check_not_input(output: Path, *inputs: Path | None) -> None:
    """Refuse to write over an input file."""
    for path in inputs:
        if path is not None and output.exists() and path.exists() and output.samefile(path):
            raise SkyCoreError(f"{output} is an input file; choose another output")


def mask_file(masks: Path | None, photo: Path) -> Path | None:
    """The mask to use for ``photo``: ``masks`` itself if it is a file, else
    ``masks/<photo name>.png`` (as ``skycore mask`` names them); None without ``--mask``."""
    if masks is None:
        return None
    return masks if masks.is_file() else masks / f"{photo.stem}.png"


def make_folder(folder: Path) -> None:
    """Create the output folder, or say why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SkyCoreError(f"cannot create the output folder {folder}: {exc}") from None


def add_batch_arguments(parser: argparse.ArgumentParser, *, outputs: str, jobs_help: str) -> None:
    """The arguments every batch subcommand has: ``PHOTO...``, ``-o OUT_DIR``, ``--jobs``,
    ``--overwrite`` and ``--scheduler``; ``outputs`` names what it writes ("masks")."""
    parser.add_argument("photos", nargs="+", metavar="PHOTO", type=Path, help="photo files")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        metavar="OUT_DIR",
        help=f"folder for the {outputs} (created if missing)",
    )
    parser.add_argument("--jobs", type=positive_int, default=1, metavar="N", help=jobs_help)
    parser.add_argument("--overwrite", action="store_true", help=f"replace existing {outputs}")
    add_scheduler_argument(parser)


def add_format_arguments(parser: argparse.ArgumentParser, *, format_help: str) -> None:
    """``--format`` and ``--quality`` of the subcommands that write photos."""
    parser.add_argument(
        "--format", default="jpg", choices=("jpg", "png", "tif", "webp"), help=format_help
    )
    parser.add_argument(
        "--quality",
        type=int,
        default=92,
        choices=range(1, 101),
        metavar="1-100",
        help="JPEG/WebP quality (default 92)",
    )


def positive_int(text: str) -> int:
    """A whole number >= 1, for argparse."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def add_scheduler_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--scheduler ADDRESS``: compute on the workers of a Dask cluster."""
    parser.add_argument(
        "--scheduler",
        type=scheduler_address,
        metavar="ADDRESS",
        help="compute on the workers of the Dask cluster whose scheduler is at ADDRESS "
        "(tcp://HOST:PORT); photos are read and results written here (needs the [cluster] "
        "extra, and skycore with the model on every worker)",
    )


def scheduler_address(text: str) -> str:
    """An address as Dask writes them (``tcp://HOST:PORT``); anything else is refused."""
    scheme, _, rest = text.partition("://")
    if not scheme or not rest:
        raise argparse.ArgumentTypeError(
            f"expected a Dask scheduler address such as tcp://HOST:8786, got {text!r}"
        )
    return text


def check_scheduler(args: argparse.Namespace) -> None:
    """Refuse ``--scheduler`` with ``--jobs`` or without Dask, before any work is done."""
    if args.scheduler is None:
        return
    if getattr(args, "jobs", 1) > 1:
        raise SkyCoreError("--jobs is for a local run; with --scheduler the workers set it")
    try:
        from . import cluster  # noqa: F401  (the check is that it imports)
    except ModuleNotFoundError as exc:
        if exc.name not in ("dask", "distributed"):
            raise
        raise SkyCoreError(
            "--scheduler needs Dask, which is not installed: pip install 'skycore[cluster]'"
        ) from None


def _limit_threads(threads: int) -> None:
    """Give each worker process its share of the cores (read by get_session and OpenCV)."""
    import cv2

    os.environ["OMP_NUM_THREADS"] = str(threads)
    cv2.setNumThreads(threads)


def run_batch(
    todo: list[tuple[Path, Path]],
    job: PhotoJob,
    *,
    desc: str,
    jobs: int = 1,
    scheduler: str | None = None,
) -> list[str]:
    """Run ``job`` on every pair with a progress bar; the failures, in the order of ``todo``.

    ``jobs`` > 1 runs that many processes, each with its share of the cores. ``scheduler``
    (a Dask address) computes on that cluster's workers instead, and reads and writes here.
    """
    from tqdm import tqdm

    from ..sessions import available_cores

    errors: dict[int, str] = {}
    progress = tqdm(total=len(todo), unit="photo", desc=desc, disable=None)
    jobs = min(jobs, len(todo))
    # Closed before an error that ends the run is printed, so it prints on a line of its own.
    with progress:
        if scheduler is not None and todo:
            from .cluster import run_on_cluster

            errors = run_on_cluster(todo, job, scheduler, progress)
        elif jobs <= 1:
            for index, (photo, output) in enumerate(todo):
                progress.set_postfix_str(photo.name)
                error = job(photo, output)
                if error:
                    errors[index] = error
                progress.update()
        else:
            threads = max(1, available_cores() // jobs)
            with ProcessPoolExecutor(
                jobs,
                mp_context=get_context("spawn"),
                initializer=_limit_threads,
                initargs=(threads,),
            ) as pool:
                futures = {
                    pool.submit(job, photo, output): index
                    for index, (photo, output) in enumerate(todo)
                }
                for future in as_completed(futures):
                    error = future.result()
                    if error:
                        errors[futures[future]] = error
                    progress.update()
    return [errors[index] for index in sorted(errors)]


def report(written: str, todo: list, failures: list[str], skipped: int, out_dir: Path) -> int:
    """Print ``N <written> written to OUT``, the skipped count and the failures; the exit
    status (1 if any photo failed)."""
    summary = f"{len(todo) - len(failures)} {written} written to {out_dir}"
    if skipped:
        summary += f", {skipped} skipped because they exist (--overwrite replaces them)"
    print(summary)
    if failures:
        print(f"skycore: {len(failures)} of {len(todo)} photo(s) failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0
