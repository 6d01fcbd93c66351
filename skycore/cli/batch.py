"""The batch plumbing the photo subcommands share: output planning, the run, the report.

A subcommand turns its arguments into ``(photo, output)`` pairs with :func:`plan_outputs`
(refusing two photos that would write one file, skipping outputs that exist), hands a
function that processes one pair to :func:`run_batch` (a progress bar, optionally several
processes) and ends with :func:`report`, which prints the summary and the failures and gives
the exit status.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from .. import options
from ..errors import SkyCoreError

#: Work on one photo: ``work(photo, output)`` returns why it failed, or None.
Work = Callable[[Path, Path], "str | None"]


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


def _limit_threads(threads: int) -> None:
    """Give each worker process its share of the cores (read by get_session and OpenCV)."""
    import cv2

    os.environ["OMP_NUM_THREADS"] = str(threads)
    cv2.setNumThreads(threads)


def run_batch(todo: list[tuple[Path, Path]], work: Work, *, desc: str, jobs: int = 1) -> list[str]:
    """Run ``work`` on every pair with a progress bar; the failures, in the order of ``todo``.

    ``jobs`` > 1 runs that many processes (``work`` must then be picklable), each with its
    share of the cores.
    """
    from tqdm import tqdm

    from ..sessions import available_cores

    errors: dict[int, str] = {}
    progress = tqdm(total=len(todo), unit="photo", desc=desc, disable=None)
    jobs = min(jobs, len(todo))
    if jobs <= 1:
        for index, (photo, output) in enumerate(todo):
            progress.set_postfix_str(photo.name)
            error = work(photo, output)
            if error:
                errors[index] = error
            progress.update()
    else:
        threads = max(1, available_cores() // jobs)
        with ProcessPoolExecutor(
            jobs, mp_context=get_context("spawn"), initializer=_limit_threads, initargs=(threads,)
        ) as pool:
            futures = {
                pool.submit(work, photo, output): index
                for index, (photo, output) in enumerate(todo)
            }
            for future in as_completed(futures):
                error = future.result()
                if error:
                    errors[futures[future]] = error
                progress.update()
    progress.close()
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
