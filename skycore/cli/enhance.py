"""``skycore enhance``: photos in, each with its sky cleaned, rebalanced and toned, out."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import options
from ..errors import SkyCoreError
from . import batch


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``skycore enhance``; its options come from :data:`options.ENHANCE_SKY`."""
    parser = subparsers.add_parser(
        "enhance",
        help="reduce noise, remove the colour cast and tone the sky of each photo",
        description=(
            "Write OUT_DIR/<photo name>.<format> for each photo: the photo with its sky "
            "enhanced (noise reduced, city light's colour cast removed, a night sky toned "
            "down), every correction measured in the sky and scaled by its option (1 = as "
            "measured, 0 = off); the rest of the photo keeps its pixels. Existing results are "
            "kept unless --overwrite is given; a photo that cannot be processed is reported at "
            "the end and makes the exit status 1."
        ),
    )
    batch.add_batch_arguments(
        parser, outputs="results", jobs_help="photos processed in parallel (default 1)"
    )
    parser.add_argument(
        "--mask",
        type=Path,
        metavar="MASK",
        help="sky mask PNG (255 = sky) instead of computing it: a file for one photo, or a "
        "folder of <photo name>.png masks as written by 'skycore mask'",
    )
    batch.add_format_arguments(
        parser,
        format_help="file format of the results (default jpg; png and tif keep 16-bit photos "
        "16-bit)",
    )
    options.add_arguments(parser, options.ENHANCE_SKY)
    parser.set_defaults(func=run)


class EnhanceJob(batch.PhotoJob):
    """One photo with its sky enhanced, encoded in the output's format."""

    def __init__(self, settings: dict, masks: Path | None, quality: int):
        self.settings, self.masks, self.quality = settings, masks, quality

    def read(self, photo: Path, output: Path) -> batch.PhotoFiles:
        """The photo's bytes and its mask's, if ``--mask`` names one."""
        from ..image import read_file

        batch.check_not_input(output, photo)
        data = read_file(photo)
        mask = batch.mask_file(self.masks, photo)
        return batch.PhotoFiles(photo, data, mask, read_file(mask) if mask else None)

    def compute(self, files: batch.PhotoFiles, output: Path) -> batch.Computed:
        from ..enhance import enhance_sky
        from ..image import decode_image, decode_probability, encode_image, to_unit_float

        image = decode_image(files.data, files.photo)
        mask = decode_probability(files.mask_data, files.mask) if files.mask else None
        result = enhance_sky(image, mask, **self.settings)
        encoded = encode_image(
            to_unit_float(result.image),  # RGB: decode_image gives three channels
            output,
            sixteen_bit=image.dtype == "uint16",
            quality=self.quality,
        )
        return batch.Computed({output: encoded})


def run(args: argparse.Namespace) -> int:
    """Run ``skycore enhance``; return 0, or 1 if any photo failed."""
    batch.check_scheduler(args)
    if args.mask is not None and not args.mask.exists():
        raise SkyCoreError(f"--mask {args.mask} does not exist")
    if args.mask is not None and args.mask.is_file() and len(args.photos) > 1:
        raise SkyCoreError("--mask is a file but several photos were given; give a folder")
    settings = batch.checked_settings(args, options.ENHANCE_SKY, need_model=args.mask is None)
    batch.make_folder(args.output)
    todo, skipped = batch.plan_outputs(
        args.photos, args.output, f".{args.format}", overwrite=args.overwrite, noun="result"
    )
    job = EnhanceJob(settings, masks=args.mask, quality=args.quality)
    failures = batch.run_batch(
        todo, job, desc="enhancing skies", jobs=args.jobs, scheduler=args.scheduler
    )
    return batch.report("result(s)", todo, failures, len(skipped), args.output)
