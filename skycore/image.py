"""Reading photos and converting them to the one layout skycore computes on.

Inside skycore an image is ``HxWx3`` float32 RGB in ``[0, 1]``; this module is the door that
turns whatever arrives (8/16-bit, float, grayscale, RGBA, files with EXIF orientation) into
that, and writes masks back out.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .errors import ImageError

#: Largest image (in pixels) skycore accepts by default: 200 MP. Refinement needs roughly
#: 40 bytes per pixel at its peak, so this keeps a worst case near 8 GB.
MAX_PIXELS = 200_000_000


def check_image_size(height: int, width: int, *, max_pixels: int = MAX_PIXELS) -> None:
    """Raise :class:`ImageError` if an image of this size is empty or over ``max_pixels``."""
    if height < 1 or width < 1:
        raise ImageError(f"image is empty ({width}x{height} pixels)")
    if height * width > max_pixels:
        raise ImageError(
            f"image is {width}x{height} = {height * width / 1e6:.0f} MP, over the limit of "
            f"{max_pixels / 1e6:.0f} MP; scale it down first"
        )


def unit_scale(dtype: np.dtype) -> float:
    """The factor that takes values of ``dtype`` to ``[0, 1]``: 1/255, 1/65535, or 1 for
    floats."""
    if dtype == np.uint8:
        return 1 / 255
    if dtype == np.uint16:
        return 1 / 65535
    return 1.0


def to_unit_float(values: np.ndarray, *, what: str = "image") -> np.ndarray:
    """uint8/uint16 scaled by their maximum, floats checked and clipped: float32 in [0, 1].

    ``what`` names the array in error messages (``"image"``, ``"mask"``).
    """
    if values.dtype in (np.uint8, np.uint16):
        return values.astype(np.float32) * np.float32(unit_scale(values.dtype))
    if not np.issubdtype(values.dtype, np.floating):
        raise ImageError(
            f"unsupported {what} dtype {values.dtype}; use uint8, uint16 or float in [0, 1]"
        )
    values = values.astype(np.float32, copy=False)
    # min and max carry NaN and infinity along: two passes instead of three.
    low, high = float(values.min()), float(values.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ImageError(f"{what} has NaN or infinite values")
    if low < 0 or high > 1:
        values = np.clip(values, 0, 1)
    return values


def shrink_to_side(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` area-reduced to at most ``side`` pixels on its long side (itself if it is
    already that small)."""
    height, width = image.shape[:2]
    factor = min(1.0, side / max(height, width))
    if factor == 1.0:
        return image
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def as_float_rgb(image: np.ndarray) -> np.ndarray:
    """Convert an image to ``HxWx3`` float32 RGB in ``[0, 1]``.

    Parameters
    ----------
    image : ndarray
        ``HxW`` (grayscale), ``HxWx1``, ``HxWx3`` (RGB) or ``HxWx4`` (RGBA; alpha is dropped).
        uint8 and uint16 are scaled by their maximum; floats are taken as ``[0, 1]`` and clipped.

    Returns
    -------
    ndarray
        float32 ``HxWx3``. A float32 RGB input already in range is returned without a copy.

    Raises
    ------
    ImageError
        For other shapes or dtypes, empty images, or non-finite float values.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ImageError(
            f"expected an HxW, HxWx3 or HxWx4 image, got an array of shape {image.shape}"
        )
    check_image_size(image.shape[0], image.shape[1])
    if image.shape[2] == 4:
        image = image[:, :, :3]
    rgb = to_unit_float(image)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    return np.ascontiguousarray(rgb)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Convert an image to ``HxWx3`` RGB in its own depth: uint8, uint16 or float32.

    The counterpart of :func:`as_float_rgb` for code that works on a photo strip by strip or
    after shrinking it: a 12 MP uint8 photo stays 36 MB instead of becoming 144 MB of float32.

    Parameters
    ----------
    image : ndarray
        ``HxW`` (grayscale), ``HxWx1``, ``HxWx3`` (RGB) or ``HxWx4`` (RGBA; alpha is dropped);
        uint8, uint16 or float.

    Returns
    -------
    ndarray
        ``HxWx3`` uint8, uint16 or float32 (other floats are converted). An RGB array of one
        of these dtypes is returned as is. Float values are not checked here: they are where
        they are converted to ``[0, 1]`` (:func:`as_float_rgb`).

    Raises
    ------
    ImageError
        For other shapes or dtypes and for empty or oversized images.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        raise ImageError(
            f"expected an HxW, HxWx3 or HxWx4 image, got an array of shape {image.shape}"
        )
    check_image_size(image.shape[0], image.shape[1])
    if image.dtype.kind == "f" and image.dtype != np.float32:
        image = image.astype(np.float32)
    if image.dtype not in (np.uint8, np.uint16, np.float32):
        raise ImageError(
            f"unsupported image dtype {image.dtype}; use uint8, uint16 or float in [0, 1]"
        )
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    return image


def _check_header(data: bytes, name: str | os.PathLike, max_pixels: int) -> None:
    """Refuse a file whose header claims too many pixels, before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own limit; ours is checked below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
    except Image.DecompressionBombError as exc:
        # Pillow refuses sizes over twice its own limit without telling the size; its message
        # holds the pixel count.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        claimed = int(found.group(1)) if found else max_pixels + 1
        if claimed > max_pixels:
            raise ImageError(
                f"{name}: image header claims {claimed / 1e6:.0f} MP, over the limit of "
                f"{max_pixels / 1e6:.0f} MP; scale it down first"
            ) from None
        return
    except Exception:  # not a format Pillow reads, or a broken header; OpenCV will say more
        return
    try:
        check_image_size(height, width, max_pixels=max_pixels)
    except ImageError as exc:
        raise ImageError(f"{name}: {exc}") from None


def read_file(path: str | os.PathLike) -> bytes:
    """The bytes of an image file, for :func:`decode_image` or :func:`decode_probability`.

    Raises
    ------
    ImageError
        If ``path`` is a folder or no file; reading errors propagate as :class:`OSError`.
    """
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image file")
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    return path.read_bytes()


def read_image(path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read a photo as RGB, with EXIF orientation applied and alpha dropped.

    Parameters
    ----------
    path : str or path-like
        Any format OpenCV reads (JPEG, PNG, TIFF, WebP, ...).
    max_pixels : int, optional
        Refuse images with more pixels than this before decoding them.

    Returns
    -------
    ndarray
        ``HxWx3`` RGB in the file's own depth: uint8, uint16 or float32.

    Raises
    ------
    ImageError
        If the file is missing, empty, corrupt, not an image, or too large.
    """
    return decode_image(read_file(path), path, max_pixels=max_pixels)


def decode_image(
    data: bytes, name: str | os.PathLike, *, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """:func:`read_image` for a file's bytes already in memory (a photo sent to another
    machine): the same pixels, EXIF orientation applied, alpha dropped.

    Parameters
    ----------
    data : bytes
        The whole image file.
    name : str or path-like
        The file's name, for error messages.
    max_pixels : int, optional
        Refuse images with more pixels than this before decoding them.

    Returns
    -------
    ndarray
        ``HxWx3`` RGB in the file's own depth: uint8, uint16 or float32.

    Raises
    ------
    ImageError
        If the data is empty, corrupt, not an image, or too large.
    """
    image = _decode(data, name, max_pixels)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_probability(path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read a probability or mask image: its first channel as float32 ``HxW`` in ``[0, 1]``.

    Parameters
    ----------
    path : str or path-like
        A grayscale or RGB(A) image, 8 or 16-bit (or float); for RGB the red channel is used.
    max_pixels : int, optional
        Refuse images with more pixels than this before decoding them.

    Returns
    -------
    ndarray
        float32 ``HxW``; 255 (or 65535) in the file is 1.

    Raises
    ------
    ImageError
        If the file is missing, empty, corrupt, not an image, or too large.
    """
    return decode_probability(read_file(path), path, max_pixels=max_pixels)


def decode_probability(
    data: bytes, name: str | os.PathLike, *, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """:func:`read_probability` for a file's bytes already in memory; ``name`` is the file's
    name for error messages."""
    image = _decode(data, name, max_pixels)
    first = image if image.ndim == 2 else image[:, :, 2]  # OpenCV decodes to BGR
    try:
        return np.ascontiguousarray(to_unit_float(first))
    except ImageError as exc:
        raise ImageError(f"{name}: {exc}") from None


def _decode(data: bytes, name: str | os.PathLike, max_pixels: int) -> np.ndarray:
    """Decode a file's bytes to ``HxW`` or BGR ``HxWx3`` uint8/uint16/float32, EXIF
    orientation applied."""
    if not data:
        raise ImageError(f"{name}: file is empty")
    _check_header(data, name, max_pixels)
    # ANYDEPTH keeps 16-bit; ANYCOLOR keeps grayscale as one channel and drops alpha; neither
    # disables EXIF orientation (only IMREAD_UNCHANGED would).
    try:
        image = cv2.imdecode(
            np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
        )
    except cv2.error as exc:  # OpenCV's own size limit and decoder failures
        raise ImageError(f"{name}: cannot decode the image ({exc.err})") from None
    if image is None:
        raise ImageError(f"{name}: not an image, or the file is corrupt or truncated")
    try:
        check_image_size(image.shape[0], image.shape[1], max_pixels=max_pixels)
    except ImageError as exc:
        raise ImageError(f"{name}: {exc}") from None
    if image.dtype not in (np.uint8, np.uint16, np.float32):
        image = image.astype(np.float32)
    return image


def write_mask(path: str | os.PathLike, mask: np.ndarray, *, bits: int = 8) -> None:
    """Write a ``HxW`` float mask in ``[0, 1]`` as a grayscale PNG (255 or 65535 = sky).

    The file is written to a temporary name first and renamed, so an interrupted run never
    leaves a truncated mask behind.
    """
    write_atomically(path, encode_mask(mask, path, bits=bits))


def encode_mask(mask: np.ndarray, name: str | os.PathLike, *, bits: int = 8) -> bytes:
    """The PNG file :func:`write_mask` writes, as bytes.

    Parameters
    ----------
    mask : ndarray
        float ``HxW`` in ``[0, 1]``.
    name : str or path-like
        The file the bytes are meant for, for error messages.
    bits : int, optional
        8 (255 = sky) or 16 (65535 = sky).

    Raises
    ------
    ImageError
        If the mask is not a finite ``HxW`` array or cannot be encoded.
    """
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.size == 0:
        raise ImageError(f"a mask must be a non-empty HxW array, got shape {mask.shape}")
    if not np.isfinite(mask).all():
        raise ImageError("mask has NaN or infinite values")
    clipped = np.clip(np.asarray(mask, np.float32), 0, 1)
    if bits == 8:
        # OpenCV's saturating cast rounds half to even like np.round, at half the cost.
        pixels = cv2.convertScaleAbs(clipped, alpha=255)
    else:
        clipped *= np.float32(65535)
        pixels = np.rint(clipped, out=clipped).astype(np.uint16)
    # OpenCV's defaults (zlib level 1, RLE, the Sub filter) are its fastest: 65 ms for a
    # 12 MP mask. Naming any compression level, even 1, switches to adaptive filtering and
    # costs 140-190 ms for a file 0-25 % smaller.
    ok, encoded = cv2.imencode(".png", pixels)
    if not ok:
        raise ImageError(f"{name}: could not encode the mask as PNG")
    return encoded.tobytes()


#: Image formats :func:`write_image` keeps 16 bits deep in.
SIXTEEN_BIT_SUFFIXES = (".png", ".tif", ".tiff")


def write_image(
    path: str | os.PathLike, rgb: np.ndarray, *, sixteen_bit: bool = False, quality: int = 92
) -> None:
    """Write float RGB in ``[0, 1]`` to ``path``, the format from its suffix, atomically.

    Parameters
    ----------
    path : str or path-like
        ``.jpg``, ``.png``, ``.tif`` or ``.webp``.
    rgb : ndarray
        float ``HxWx3`` in ``[0, 1]``.
    sixteen_bit : bool, optional
        16 bits per channel where the format has them (PNG, TIFF); 8 otherwise.
    quality : int, optional
        JPEG and WebP quality, 1-100.

    Raises
    ------
    ImageError
        If the format cannot be written.
    """
    write_atomically(path, encode_image(rgb, path, sixteen_bit=sixteen_bit, quality=quality))


def encode_image(
    rgb: np.ndarray, name: str | os.PathLike, *, sixteen_bit: bool = False, quality: int = 92
) -> bytes:
    """The file :func:`write_image` writes, as bytes.

    Parameters
    ----------
    rgb : ndarray
        float ``HxWx3`` in ``[0, 1]``.
    name : str or path-like
        The file the bytes are meant for: its suffix (``.jpg``, ``.png``, ``.tif``, ``.webp``)
        picks the format, and error messages name it.
    sixteen_bit : bool, optional
        16 bits per channel where the format has them (PNG, TIFF); 8 otherwise.
    quality : int, optional
        JPEG and WebP quality, 1-100.

    Raises
    ------
    ImageError
        If the format cannot be written.
    """
    suffix = Path(name).suffix.lower()
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
        raise ImageError(f"{name}: cannot write this format; use .jpg, .png, .tif or .webp")
    return encoded.tobytes()


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary ``.part`` file and a rename, so an
    interrupted run never leaves a truncated file under the final name."""
    path = Path(path)
    part = path.with_name(path.name + ".part")
    try:
        part.write_bytes(data)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
