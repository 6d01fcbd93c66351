"""``skycore enhance``: photos in, each with its sky cleaned, rebalanced and toned, out."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from .. import options
from ..errors import SkyCoreError
from . import batch
from .mask import positive_int


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
    parser.add_argument("photos", nargs="+", metavar="PHOTO", type=Path, help="photo files")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        metavar="OUT_DIR",
        help="folder for the results (created if missing)",
    )
    parser.add_argument(
        "--mask",
        type=Path,
        metavar="MASK",
        help="sky mask PNG (255 = sky) instead of computing it: a file for one photo, or a "
        "folder of <photo name>.png masks as written by 'skycore mask'",
    )
    parser.add_argument(
        "--format",
        default="jpg",
        choices=("jpg", "png", "tif", "webp"),
        help="file format of the results (default jpg; png and tif keep 16-bit photos 16-bit)",
    )
    parser.add_argument(
        "--quality",
        type=int,
        default=92,
        choices=range(1, 101),
        metavar="1-100",
        help="JPEG/WebP quality (default 92)",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        metavar="N",
        help="photos processed in parallel (default 1)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing results")
    options.add_arguments(parser, options.ENHANCE_SKY)
    parser.set_defaults(func=run)


def enhance_photo(
    photo: Path, output: Path, settings: dict, masks: Path | None, quality: int
) -> str | None:
    """Write the enhanced photo; return why it failed, or None (as :func:`mask.mask_photo`)."""
    from .. import read_image
    from ..enhance import enhance_sky
    from ..image import read_probability, to_unit_float, write_image

    try:
        batch.check_not_input(output, photo)
        image = read_image(photo)
        mask_path = batch.mask_file(masks, photo)
        mask = read_probability(mask_path) if mask_path else None
        result = enhance_sky(image, mask, **settings)
        write_image(
            output,
            to_unit_float(result.image[..., :3] if result.image.ndim == 3 else result.image),
            sixteen_bit=image.dtype == "uint16",
            quality=quality,
        )
    except (SkyCoreError, OSError, MemoryError) as exc:
        return batch.failure_message(photo, exc)
    return None


def run(args: argparse.Namespace) -> int:
    """Run ``skycore enhance``; return 0, or 1 if any photo failed."""
    if args.mask is not None and not args.mask.exists():
        raise SkyCoreError(f"--mask {args.mask} does not exist")
    if args.mask is not None and args.mask.is_file() and len(args.photos) > 1:
        raise SkyCoreError("--mask is a file but several photos were given; give a folder")
    settings = batch.checked_settings(args, options.ENHANCE_SKY, need_model=args.mask is None)
    batch.make_folder(args.output)
    todo, skipped = batch.plan_outputs(
        args.photos, args.output, f".{args.format}", overwrite=args.overwrite, noun="result"
    )
    work = functools.partial(
        enhance_photo, settings=settings, masks=args.mask, quality=args.quality
    )
    failures = batch.run_batch(todo, work, desc="enhancing skies", jobs=args.jobs)
    return batch.report("result(s)", todo, failures, len(skipped), args.output)
