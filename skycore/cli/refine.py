"""``skycore refine``: refine a given sky probability at the photo's full resolution."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import SkyCoreError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``skycore refine``."""
    parser = subparsers.add_parser(
        "refine",
        help="refine a sky probability image into a full-resolution mask",
        description=(
            "Refine PROBABILITY (a grayscale or RGB PNG, 8 or 16-bit, any size; its first "
            "channel is the sky probability, 255 = sky) guided by PHOTO, and write a mask the "
            "size of the photo."
        ),
    )
    parser.add_argument("photo", type=Path, metavar="PHOTO")
    parser.add_argument("probability", type=Path, metavar="PROBABILITY")
    parser.add_argument(
        "-o", "--output", required=True, type=Path, metavar="OUT", help="mask PNG to write"
    )
    parser.add_argument(
        "--cpp-compatible",
        action="store_true",
        help="reproduce the original C++ refinement (256-px grid)",
    )
    parser.add_argument(
        "--colour-density",
        action="store_true",
        help="re-estimate uncertain pixels with colour density models first",
    )
    parser.add_argument(
        "--16bit", dest="sixteen_bit", action="store_true", help="write a 16-bit mask (65535 = sky)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``skycore refine``; return 0."""
    from .. import read_image, refine, write_mask
    from ..image import read_probability

    image = read_image(args.photo)
    probability = read_probability(args.probability)
    mask = refine(
        image, probability, cpp_compatible=args.cpp_compatible, colour_density=args.colour_density
    )
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        write_mask(args.output, mask, bits=16 if args.sixteen_bit else 8)
    except OSError as exc:
        raise SkyCoreError(f"cannot write {args.output}: {exc}") from None
    return 0
