"""``skycore mask``: photos in, one full-resolution sky mask PNG per photo out."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import options
from . import batch


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``skycore mask``; its mask options come from :data:`options.SELECT_SKY`."""
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
        "--jobs",
        type=positive_int,
        default=1,
        metavar="N",
        help="photos processed in parallel (default 1, which already uses "
        "all cores for each photo)",
    )
    parser.add_argument(
        "--16bit", dest="sixteen_bit", action="store_true", help="write 16-bit masks (65535 = sky)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing masks")
    batch.add_scheduler_argument(parser)
    options.add_arguments(parser, options.SELECT_SKY)
    parser.set_defaults(func=run)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


class MaskJob(batch.PhotoJob):
    """The sky mask of one photo, as a PNG file of ``bits`` bits."""

    def __init__(self, settings: dict, bits: int = 8):
        self.settings, self.bits = settings, bits

    def compute(self, files: batch.PhotoFiles, output: Path) -> batch.Computed:
        from .. import select_sky
        from ..image import decode_image, encode_mask

        image = decode_image(files.data, files.photo)
        mask = select_sky(image, **self.settings)
        del image
        return batch.Computed({output: encode_mask(mask, output, bits=self.bits)})


def run(args: argparse.Namespace) -> int:
    """Run ``skycore mask``; return 0, or 1 if any photo failed."""
    batch.check_scheduler(args)
    settings = batch.checked_settings(args, options.SELECT_SKY)
    batch.make_folder(args.output)
    todo, skipped = batch.plan_outputs(
        args.photos, args.output, ".png", overwrite=args.overwrite, noun="mask"
    )
    job = MaskJob(settings, bits=16 if args.sixteen_bit else 8)
    failures = batch.run_batch(
        todo, job, desc="sky masks", jobs=args.jobs, scheduler=args.scheduler
    )
    return batch.report("mask(s)", todo, failures, len(skipped), args.output)
