"""``skycore replace``: put a new sky into one photo, or into every photo of a folder."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import options
from ..errors import SkyCoreError
from . import batch

#: Files a folder run picks up, by suffix (lower case).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")
#: Above this enlargement of the sky image the result looks soft; say so.
UPSCALE_NOTE = 2.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``skycore replace``; its options come from :data:`options.REPLACE_SKY`."""
    parser = subparsers.add_parser(
        "replace",
        help="replace the sky of a photo, or of every photo in a folder",
        description=(
            "Replace the sky of PHOTO with SKY and write the result to OUT. If PHOTO is a "
            "folder, every photo in it gets the same sky and OUT is a folder that receives "
            "<photo name>.<format>; existing results are kept unless --overwrite is given, and "
            "photos that fail are listed at the end (exit status 1)."
        ),
    )
    parser.add_argument(
        "photo", type=Path, metavar="PHOTO", help="photo file, or a folder of photos"
    )
    parser.add_argument("--sky", required=True, type=Path, metavar="SKY", help="the new sky image")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        metavar="OUT",
        help="result file (.jpg, .png, .tif, .webp), or folder for a folder run",
    )
    parser.add_argument(
        "--mask",
        type=Path,
        metavar="MASK",
        help="sky mask PNG of the photo (255 = sky) instead of computing it; "
        "for a folder run, a folder of <photo name>.png masks as written by "
        "'skycore mask'",
    )
    parser.add_argument(
        "--save-mask",
        action="store_true",
        help="also write the sky mask used, as <result name>_mask.png",
    )
    batch.add_format_arguments(
        parser, format_help="file format of a folder run's results (default jpg)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="folder run: replace results that already exist"
    )
    batch.add_scheduler_argument(parser)
    options.add_arguments(parser, options.REPLACE_SKY)
    parser.set_defaults(func=run)


def mask_path_for(result: Path) -> Path:
    """Where ``--save-mask`` writes the mask of ``result``."""
    return result.with_name(f"{result.stem}_mask.png")


@dataclass(frozen=True)
class Replaced(batch.Computed):
    """The files of one replaced sky, and how much the sky image was enlarged for it."""

    upscale: float = 1.0


class ReplaceJob(batch.PhotoJob):
    """Replaces the sky of one photo with the run's sky and settings.

    :meth:`store` keeps the largest enlargement of the sky stored so far, for the note at
    the end of the run.
    """

    def __init__(self, sky, settings: dict, *, masks: Path | None, quality: int, save_mask: bool):
        self.sky, self.settings, self.masks = sky, settings, masks
        self.quality, self.save_mask = quality, save_mask
        self.largest_upscale = 1.0

    def read(self, photo: Path, output: Path) -> batch.PhotoFiles:
        """The photo's bytes and its mask's, if ``--mask`` is given."""
        from ..image import read_file

        batch.check_not_input(output, photo)
        data = read_file(photo)
        mask = batch.mask_file(self.masks, photo)
        return batch.PhotoFiles(photo, data, mask, read_file(mask) if mask else None)

    def compute(self, files: batch.PhotoFiles, output: Path) -> Replaced:
        from .. import replace_sky
        from ..image import decode_image, decode_probability, encode_image, encode_mask

        image = decode_image(files.data, files.photo)
        mask = decode_probability(files.mask_data, files.mask) if files.mask else None
        result = replace_sky(image, self.sky, mask, **self.settings)
        encoded = {
            output: encode_image(
                result.composite,
                output,
                sixteen_bit=image.dtype == "uint16",
                quality=self.quality,
            )
        }
        if self.save_mask:
            mask_path = mask_path_for(output)
            encoded[mask_path] = encode_mask(result.mask, mask_path)
        return Replaced(encoded, upscale=result.placement.upscale)

    def store(self, computed: Replaced, output: Path) -> None:
        super().store(computed, output)
        self.largest_upscale = max(self.largest_upscale, computed.upscale)


def photos_in(folder: Path) -> list[Path]:
    """The photos of a folder (by :data:`PHOTO_SUFFIXES`), sorted."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)


def run(args: argparse.Namespace) -> int:
    """Run ``skycore replace``; return 0, or 1 if a photo of a folder run failed."""
    from .. import read_image

    sky = read_image(args.sky)
    if args.photo.is_dir():
        return _run_folder(args, sky)
    if args.scheduler is not None:
        raise SkyCoreError("--scheduler is for a folder run; PHOTO must be a folder of photos")
    if args.mask is not None and args.mask.is_dir():
        raise SkyCoreError(f"--mask {args.mask} is a folder; give the mask file of {args.photo}")
    if args.output.is_dir():
        raise SkyCoreError(f"{args.output} is a folder; give a file name such as result.jpg")
    batch.check_not_input(args.output, args.photo, args.sky, args.mask)
    replacer = ReplaceJob(
        sky,
        batch.checked_settings(args, options.REPLACE_SKY, need_model=args.mask is None),
        masks=args.mask,
        quality=args.quality,
        save_mask=args.save_mask,
    )
    batch.make_folder(args.output.parent)
    error = replacer(args.photo, args.output)
    if error:
        raise SkyCoreError(error)
    written = f" and {mask_path_for(args.output)}" if args.save_mask else ""
    print(f"{args.output}{written} written")
    _note_upscale(replacer.largest_upscale)
    return 0


def _note_upscale(upscale: float) -> None:
    if upscale > UPSCALE_NOTE:
        print(
            f"note: the sky image was enlarged {upscale:.1f}x and may look soft; "
            "a larger sky image gives a sharper result",
            file=sys.stderr,
        )


def _run_folder(args: argparse.Namespace, sky) -> int:
    batch.check_scheduler(args)
    photos = photos_in(args.photo)
    if not photos:
        raise SkyCoreError(f"{args.photo} holds no photos ({', '.join(PHOTO_SUFFIXES)})")
    if args.mask is not None and not args.mask.is_dir():
        raise SkyCoreError(f"--mask must be a folder of masks for a folder run: {args.mask}")
    todo, skipped = batch.plan_outputs(
        photos, args.output, f".{args.format}", overwrite=args.overwrite, noun="result"
    )
    batch.make_folder(args.output)
    replacer = ReplaceJob(
        sky,
        batch.checked_settings(
            args, options.REPLACE_SKY, need_model=args.mask is None and bool(todo)
        ),
        masks=args.mask,
        quality=args.quality,
        save_mask=args.save_mask,
    )
    failures = batch.run_batch(todo, replacer, desc="replacing skies", scheduler=args.scheduler)
    status = batch.report("result(s)", todo, failures, len(skipped), args.output)
    _note_upscale(replacer.largest_upscale)
    return status
