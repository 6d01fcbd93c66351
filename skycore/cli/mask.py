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
    batch.add_batch_arguments(
        parser,
        outputs="masks",
        jobs_help="photos processed in parallel (default 1, which already uses all cores for "
        "each photo)",
    )
    parser.add_argument(
        "--16bit", dest="sixteen_bit", action="store_true", help="write 16-bit masks (65535 = sky)"
    )
    options.add_arguments(parser, options.SELECT_SKY)
    parser.set_defaults(func=run)


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
