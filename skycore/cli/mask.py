"""``skycore mask``: photos in, one full-resolution sky mask PNG per photo out."""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from ..errors import SkyCoreError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``skycore mask``."""
    parser = subparsers.add_parser(
        "mask",
        help="write a sky mask PNG for each photo",
        description=(
            "Write OUT_DIR/<photo name>.png for each photo: a grayscale mask the size of the "
            "photo, 255 = sky. Existing masks are kept unless --overwrite is given; a photo "
            "that cannot be processed is reported at the end and makes the exit status 1."
        ),
    )
    parser.add_argument("photos", nargs="+", metavar="PHOTO", type=Path, help="photo files")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        metavar="OUT_DIR",
        help="folder for the masks (created if missing)",
    )
    parser.add_argument(
        "--model",
        metavar="NAME|PATH",
        help="model id or .onnx file with a manifest beside it "
        "(default: the installed default model)",
    )
    parser.add_argument(
        "--no-refine",
        dest="refine",
        action="store_false",
        help="only upsample the model's probability, skip the refinement",
    )
    parser.add_argument(
        "--density",
        action="store_true",
        help="re-estimate uncertain pixels with colour density models first",
    )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="photos processed in parallel (default 1, which already uses "
        "all cores for each photo)",
    )
    parser.add_argument(
        "--16bit", dest="sixteen_bit", action="store_true", help="write 16-bit masks (65535 = sky)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing masks")
    parser.set_defaults(func=run)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def mask_photo(photo: Path, output: Path, options: dict) -> str | None:
    """Write the mask of one photo; return why it failed, or None.

    Failures a photo can cause (unreadable or unusable file, no room to write, out of memory)
    are returned so a batch can go on; anything else is a bug and propagates.
    """
    from .. import read_image, sky_mask, write_mask

    try:
        image = read_image(photo)
        mask = sky_mask(
            image, model=options["model"], refine=options["refine"], density=options["density"]
        )
        del image
        write_mask(output, mask, bits=options["bits"])
    except (SkyCoreError, OSError) as exc:
        message = str(exc)
        return message if str(photo) in message else f"{photo}: {message}"
    except MemoryError:
        return f"{photo}: not enough memory"
    return None


def _limit_threads(threads: int) -> None:
    """Give each worker process its share of the cores (read by get_session and OpenCV)."""
    import cv2

    os.environ["OMP_NUM_THREADS"] = str(threads)
    cv2.setNumThreads(threads)


def _plan(photos: list[Path], out_dir: Path, overwrite: bool) -> tuple[list, list[Path]]:
    """(photo, output) pairs to compute, and the photos skipped because their mask exists."""
    unique = list(dict.fromkeys(photos))
    by_output: dict[Path, list[Path]] = {}
    for photo in unique:
        by_output.setdefault(out_dir / f"{photo.stem}.png", []).append(photo)
    clashes = [f"{', '.join(map(str, p))} -> {out}" for out, p in by_output.items() if len(p) > 1]
    if clashes:
        raise SkyCoreError(
            "photos with the same name would write the same mask: " + "; ".join(clashes)
        )
    todo, skipped = [], []
    for output, (photo,) in by_output.items():
        if output.exists() and not overwrite:
            skipped.append(photo)
        else:
            todo.append((photo, output))
    return todo, skipped


def run(args: argparse.Namespace) -> int:
    """Run ``skycore mask``; return 0, or 1 if any photo failed."""
    from tqdm import tqdm

    from ..models import available_cores, find_model, verify_model

    spec = find_model(args.model)
    verify_model(spec)  # a tampered model stops the run before any photo
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SkyCoreError(f"cannot create the output folder {args.output}: {exc}") from None
    todo, skipped = _plan(args.photos, args.output, args.overwrite)
    options = {
        "model": spec,
        "refine": args.refine,
        "density": args.density,
        "bits": 16 if args.sixteen_bit else 8,
    }
    errors: dict[int, str] = {}
    progress = tqdm(total=len(todo), unit="photo", desc="sky masks", disable=None)
    jobs = min(args.jobs, len(todo))
    if jobs <= 1:
        for index, (photo, output) in enumerate(todo):
            progress.set_postfix_str(photo.name)
            error = mask_photo(photo, output, options)
            if error:
                errors[index] = error
            progress.update()
    else:
        threads = max(1, available_cores() // jobs)
        with ProcessPoolExecutor(
            jobs, mp_context=get_context("spawn"), initializer=_limit_threads, initargs=(threads,)
        ) as pool:
            futures = {
                pool.submit(mask_photo, photo, output, options): index
                for index, (photo, output) in enumerate(todo)
            }
            for future in as_completed(futures):
                error = future.result()
                if error:
                    errors[futures[future]] = error
                progress.update()
    progress.close()
    failures = [errors[index] for index in sorted(errors)]
    written = len(todo) - len(failures)
    summary = f"{written} mask(s) written to {args.output}"
    if skipped:
        summary += f", {len(skipped)} skipped because they exist (--overwrite replaces them)"
    print(summary)
    if failures:
        print(f"skycore: {len(failures)} of {len(todo)} photo(s) failed:", file=sys.stderr)
        for error in failures:
            print(f"  {error}", file=sys.stderr)
        return 1
    return 0
