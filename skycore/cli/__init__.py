"""The ``skycore`` command line.

Each subcommand lives in its own module of this package and exposes
``add_parser(subparsers)``, which adds its parser and sets ``func`` to a function taking the
parsed arguments and returning the exit status. Heavy work is imported inside those functions,
so ``skycore --version`` and ``--help`` stay quick and never load onnxruntime.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from .. import __version__
from ..errors import SkyCoreError

#: Subcommand modules, in the order ``skycore --help`` lists them.
SUBCOMMANDS = ("mask", "refine", "replace", "enhance", "models")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="skycore",
        description="Sky masks, sky replacement and sky enhancement for photos.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Errors skycore raises on bad input (:class:`~skycore.errors.SkyCoreError`) end the run with
    one line ``skycore: error: ...`` and status 2, like argparse's own usage errors.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SkyCoreError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    except KeyboardInterrupt:
        parser.exit(130, f"{parser.prog}: interrupted\n")
