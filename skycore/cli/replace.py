"""``skycore replace``: put a new sky into one photo, or into every photo of a folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ImageError, SkyCoreError

#: Files a folder run picks up, by suffix (lower case).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")
#: Output formats by suffix; 16-bit photos stay 16-bit in PNG and TIFF.
SIXTEEN_BIT_SUFFIXES = (".png", ".tif", ".tiff")
#: Above this enlargement of the sky image the result looks soft; say so.
UPSCALE_NOTE = 2.0


def _float_in(low: float, high: float):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"expected a number in [{low:g}, {high:g}], got {text!r}"
            )
        return value

    return parse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``skycore replace``."""
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
        "--model",
        metavar="NAME|PATH",
        help="model id or .onnx file for computing masks (default: the installed default model)",
    )
    parser.add_argument(
        "--save-mask",
        action="store_true",
        help="also write the sky mask used, as <result name>_mask.png",
    )
    parser.add_argument(
        "--format",
        default="jpg",
        choices=("jpg", "png", "tif", "webp"),
        help="file format of a folder run's results (default jpg)",
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
        "--overwrite", action="store_true", help="folder run: replace results that already exist"
    )
    fit = parser.add_argument_group("placing the sky")
    fit.add_argument(
        "--scale",
        type=_float_in(0.25, 8.0),
        default=1.0,
        metavar="FACTOR",
        help="zoom on top of the size that just covers the sky (0.25-8, default 1)",
    )
    fit.add_argument(
        "--offset-x",
        type=_float_in(-1.0, 1.0),
        default=0.0,
        metavar="SHARE",
        help="move the sky right (+) or left (-), share of the photo width (-1..1)",
    )
    fit.add_argument(
        "--offset-y",
        type=_float_in(-1.0, 1.0),
        default=0.0,
        metavar="SHARE",
        help="move the sky down (+) or up (-), share of the photo height (-1..1)",
    )
    fit.add_argument("--flip", action="store_true", help="mirror the sky left-right")
    fit.add_argument(
        "--anchor",
        choices=("horizon", "top"),
        default="horizon",
        help="line the sky image's bottom up with the horizon (default) or its "
        "top with the top of the sky",
    )
    edge = parser.add_argument_group("edges")
    edge.add_argument(
        "--shift-edge",
        type=_float_in(-100.0, 100.0),
        default=0.0,
        metavar="PX",
        help="grow (+) or shrink (-) the sky by this many pixels (default 0)",
    )
    edge.add_argument(
        "--fade-edge",
        type=_float_in(0.0, 200.0),
        default=0.0,
        metavar="PX",
        help="soften the edge: feather radius in pixels (default 0)",
    )
    edge.add_argument(
        "--no-defringe",
        dest="defringe",
        action="store_false",
        help="plain alpha blend: keep the old sky's colour in soft edges",
    )
    tone = parser.add_argument_group("foreground")
    tone.add_argument(
        "--amount",
        type=_float_in(0.0, 1.0),
        default=0.5,
        metavar="0-1",
        help="adapt the foreground's brightness and colour to the new sky (0-1, default 0.5)",
    )
    tone.add_argument(
        "--brightness",
        type=_float_in(-2.0, 2.0),
        default=0.0,
        metavar="STOPS",
        help="extra foreground exposure in stops (-2..2, default 0)",
    )
    tone.add_argument(
        "--temperature",
        type=_float_in(-1.0, 1.0),
        default=0.0,
        metavar="-1..1",
        help="extra cool (-) or warm (+) foreground tint (-1..1, default 0)",
    )
    tone.add_argument(
        "--lighting",
        type=_float_in(0.0, 1.0),
        default=0.3,
        metavar="0-1",
        help="tint the foreground near the horizon with the new sky's colour (0-1, default 0.3)",
    )
    parser.set_defaults(func=run)


def _options(args: argparse.Namespace) -> dict:
    return {
        "scale": args.scale,
        "offset_x": args.offset_x,
        "offset_y": args.offset_y,
        "flip": args.flip,
        "anchor": args.anchor,
        "shift_edge": args.shift_edge,
        "fade_edge": args.fade_edge,
        "defringe": args.defringe,
        "amount": args.amount,
        "brightness": args.brightness,
        "temperature": args.temperature,
        "lighting": args.lighting,
    }


def write_image(path: Path, rgb, *, sixteen_bit: bool = False, quality: int = 92) -> None:
    """Write float RGB in ``[0, 1]`` to ``path`` (format from its suffix), atomically."""
    import cv2
    import numpy as np

    from ..image import write_atomically

    suffix = path.suffix.lower()
    if sixteen_bit and suffix in SIXTEEN_BIT_SUFFIXES:
        pixels = np.round(np.clip(rgb, 0, 1) * 65535).astype(np.uint16)
    else:
        pixels = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    params = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, quality]
    try:
        ok, encoded = cv2.imencode(suffix, cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), params)
    except cv2.error:
        ok = False
    if not ok:
        raise ImageError(f"{path}: cannot write this format; use .jpg, .png, .tif or .webp")
    write_atomically(path, encoded.tobytes())


def mask_path_for(result: Path) -> Path:
    """Where ``--save-mask`` writes the mask of ``result``."""
    return result.with_name(f"{result.stem}_mask.png")


def replace_photo(photo: Path, sky, output: Path, settings: dict) -> float:
    """Replace the sky of one photo and write the result; return the sky's enlargement."""
    from .. import read_image, write_mask
    from ..image import read_probability
    from ..replace import replace_sky

    image = read_image(photo)
    mask = read_probability(settings["mask"]) if settings["mask"] else None
    result = replace_sky(image, sky, mask, model=settings["model"], **settings["options"])
    write_image(
        output, result.composite, sixteen_bit=image.dtype == "uint16", quality=settings["quality"]
    )
    if settings["save_mask"]:
        write_mask(mask_path_for(output), result.mask)
    return result.placement.upscale


def _photos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)


def _check_not_input(output: Path, *inputs: Path) -> None:
    for path in inputs:
        if path is not None and output.exists() and path.exists() and output.samefile(path):
            raise SkyCoreError(f"{output} is an input file; choose another output")


def _model(args: argparse.Namespace):
    from ..models import find_model, verify_model

    spec = find_model(args.model)
    verify_model(spec)  # a tampered model stops the run before any photo
    return spec


def _note_upscale(upscale: float, write) -> None:
    if upscale > UPSCALE_NOTE:
        write(
            f"note: the sky image was enlarged {upscale:.1f}x and may look soft; "
            "a larger sky image gives a sharper result"
        )


def run(args: argparse.Namespace) -> int:
    """Run ``skycore replace``; return 0, or 1 if a photo of a folder run failed."""
    from .. import read_image

    sky = read_image(args.sky)
    if args.photo.is_dir():
        return _run_folder(args, sky)
    if args.mask is not None and args.mask.is_dir():
        raise SkyCoreError(f"--mask {args.mask} is a folder; give the mask file of {args.photo}")
    if args.output.is_dir():
        raise SkyCoreError(f"{args.output} is a folder; give a file name such as result.jpg")
    _check_not_input(args.output, args.photo, args.sky, args.mask)
    settings = {
        "model": None if args.mask else _model(args),
        "mask": args.mask,
        "options": _options(args),
        "quality": args.quality,
        "save_mask": args.save_mask,
    }
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        upscale = replace_photo(args.photo, sky, args.output, settings)
    except OSError as exc:
        raise SkyCoreError(f"cannot write {args.output}: {exc}") from None
    _note_upscale(upscale, lambda text: print(text, file=sys.stderr))
    return 0


def _run_folder(args: argparse.Namespace, sky) -> int:
    from tqdm import tqdm

    photos = _photos_in(args.photo)
    if not photos:
        raise SkyCoreError(f"{args.photo} holds no photos ({', '.join(PHOTO_SUFFIXES)})")
    if args.mask is not None and not args.mask.is_dir():
        raise SkyCoreError(f"--mask must be a folder of masks for a folder run: {args.mask}")
    by_output: dict[Path, list[Path]] = {}
    for photo in photos:
        by_output.setdefault(args.output / f"{photo.stem}.{args.format}", []).append(photo)
    clashes = [f"{', '.join(p.name for p in ps)}" for ps in by_output.values() if len(ps) > 1]
    if clashes:
        raise SkyCoreError(
            "photos with the same name would write the same result: " + "; ".join(clashes)
        )
    todo = [(ps[0], out) for out, ps in by_output.items() if args.overwrite or not out.exists()]
    skipped = len(photos) - len(todo)
    try:
        args.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SkyCoreError(f"cannot create the output folder {args.output}: {exc}") from None
    model = _model(args) if args.mask is None and todo else None
    failures: list[str] = []
    largest_upscale = 1.0
    progress = tqdm(todo, unit="photo", desc="replacing skies", disable=None)
    for photo, output in progress:
        progress.set_postfix_str(photo.name)
        settings = {
            "model": model,
            "mask": args.mask / f"{photo.stem}.png" if args.mask else None,
            "options": _options(args),
            "quality": args.quality,
            "save_mask": args.save_mask,
        }
        try:
            _check_not_input(output, photo, args.sky)
            largest_upscale = max(largest_upscale, replace_photo(photo, sky, output, settings))
        except (SkyCoreError, OSError) as exc:
            message = str(exc)
            failures.append(message if str(photo) in message else f"{photo}: {message}")
        except MemoryError:
            failures.append(f"{photo}: not enough memory")
    progress.close()
    summary = f"{len(todo) - len(failures)} result(s) written to {args.output}"
    if skipped:
        summary += f", {skipped} skipped because they exist (--overwrite replaces them)"
    print(summary)
    _note_upscale(largest_upscale, lambda text: print(text, file=sys.stderr))
    if failures:
        print(f"skycore: {len(failures)} of {len(todo)} photo(s) failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    return 0
