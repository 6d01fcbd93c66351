"""Checksummed, resumable downloads of model files (standard library ``urllib`` only).

:func:`download` writes to ``<dest>.part``, resumes an interrupted ``.part`` with an HTTP
``Range`` request, retries transient failures, checks the SHA-256 and only then renames the
file into place, so ``dest`` is either absent or complete and verified.
"""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from .errors import ModelError
from .registry import file_sha256

_CHUNK = 1 << 16
_USER_AGENT = "skycore-download/1"


class _Retryable(Exception):
    """A failure worth another attempt (connection loss, short read, server error)."""


def _part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return None  # the .part already holds every byte the server has
        if exc.code >= 500 or exc.code in (408, 429):
            raise _Retryable(f"HTTP {exc.code} {exc.reason}") from None
        raise ModelError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Retryable(f"connection failed ({reason})") from None


def _fetch_once(url: str, part: Path, *, progress: bool, timeout: float) -> None:
    """Append what is missing to ``part``; raise :class:`_Retryable` if it stays incomplete."""
    offset = part.stat().st_size if part.is_file() else 0
    response = _open(url, offset, timeout)
    if response is None:
        return
    with response:
        if offset and response.status != 206:
            offset = 0  # the server ignored the Range header and sends the whole file
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        mode = "ab" if offset else "wb"
        received = offset
        bar = tqdm(
            total=total,
            initial=offset,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=part.name[: -len(".part")],
            disable=not progress,
        )
        with bar, part.open(mode) as out:
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                raise _Retryable(f"connection lost after {received} bytes ({exc})") from None
    if total is not None and received < total:
        raise _Retryable(f"connection closed after {received} of {total} bytes")


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str,
    *,
    progress: bool = True,
    retries: int = 4,
    timeout: float = 30.0,
    backoff: float = 1.0,
) -> Path:
    """Download ``url`` to ``dest`` and verify its SHA-256.

    Parameters
    ----------
    url : str
        ``http``, ``https`` or ``file`` URL.
    dest : path-like
        Final file. Bytes land in ``dest + ".part"`` first; an existing ``.part`` is resumed
        with an HTTP ``Range`` request. ``dest`` appears (by an atomic rename) only once the
        checksum matches. If ``dest`` already exists with the right checksum nothing is
        fetched.
    sha256 : str
        Expected hex digest.
    progress : bool, optional
        Show a progress bar on stderr.
    retries : int, optional
        Further attempts after a connection failure, short read or HTTP 5xx/408/429; each one
        resumes where the last stopped. Other HTTP errors fail at once.
    timeout : float, optional
        Socket timeout in seconds.
    backoff : float, optional
        Seconds before the first retry, doubled for each further one.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    ModelError
        If the download fails after the retries, the server refuses it, or the checksum does
        not match (the bad ``.part`` is deleted, so the next call starts afresh).
    """
    dest = Path(dest)
    expected = sha256.lower()
    if dest.is_file() and file_sha256(dest) == expected:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part_path(dest)
    resumed = part.is_file() and part.stat().st_size > 0
    for attempt in range(retries + 1):
        try:
            _fetch_once(url, part, progress=progress, timeout=timeout)
            break
        except _Retryable as exc:
            if attempt == retries:
                raise ModelError(
                    f"cannot download {url} after {retries + 1} attempts: {exc}; "
                    f"run again to resume from {part}"
                ) from None
            time.sleep(backoff * 2**attempt)
    actual = file_sha256(part)
    if actual != expected:
        part.unlink()
        if resumed:
            # A stale .part from another file version can poison a resume: start over once.
            return download(
                url,
                dest,
                sha256,
                progress=progress,
                retries=retries,
                timeout=timeout,
                backoff=backoff,
            )
        raise ModelError(
            f"checksum mismatch for {url}: expected sha256 {expected}, got {actual}; "
            "the download was deleted"
        )
    os.replace(part, dest)
    return dest
