"""``skycore models``: the models skycore can find, with their checks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ModelError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``skycore models``."""
    parser = subparsers.add_parser(
        "models",
        help="list the models found and check their files",
        description=(
            "List the models named by the manifests (*.json) in the user model folder "
            "($SKYCORE_MODEL_DIR, else $XDG_DATA_HOME/skycore/models) and the project's "
            "models/ folder, plus any manifests or folders given, and check each file's "
            "SHA-256. The exit status is 1 if a file does not match its manifest or a "
            "manifest is invalid."
        ),
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="more manifests (.json) or folders holding manifests",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``skycore models``; return 0, or 1 if a check failed."""
    from ..registry import (
        checksum_status,
        default_model,
        manifests_in,
        model_dirs,
        read_manifest,
    )

    folders = model_dirs()
    manifests = [m for folder in folders for m in manifests_in(folder)]
    for path in args.paths:
        if path.is_dir():
            manifests += manifests_in(path)
        elif path.is_file():
            manifests.append(path)
        else:
            raise ModelError(f"{path}: no such manifest or folder")
    try:
        default_id, default_note = default_model().id, "* = default model"
    except ModelError as exc:  # none installed, or a broken manifest hides it
        default_id, default_note = None, str(exc)

    rows, problems, seen = [], [], set()
    for manifest in dict.fromkeys(p.resolve() for p in manifests):
        try:
            specs = read_manifest(manifest)
        except ModelError as exc:
            problems.append(str(exc))
            continue
        for spec in specs:
            status = checksum_status(spec)
            if status == "mismatch":
                problems.append(f"{spec.path}: SHA-256 does not match {manifest}")
            # Of ids listed twice, the first one is the one skycore uses.
            marker = "*" if spec.id == default_id and spec.id not in seen else " "
            note = "" if spec.id not in seen else " (shadowed)"
            seen.add(spec.id)
            rows.append(
                (
                    marker,
                    spec.id + note,
                    str(spec.path),
                    "yes" if spec.available else "no",
                    status,
                    spec.license,
                    spec.url or "-",
                )
            )

    print("model folders: " + ", ".join(str(f) for f in folders))
    if rows:
        header = (" ", "ID", "FILE", "PRESENT", "CHECKSUM", "LICENCE", "URL")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            print("  ".join(cells).rstrip())
    else:
        print("no models found")
    print(default_note)
    for problem in problems:
        print(f"skycore: {problem}", file=sys.stderr)
    return 1 if problems else 0
