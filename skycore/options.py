"""The option tables: every option of every task, declared once.

Each task (``select_sky``, ``replace_sky``, ``enhance_sky``) has a table of :class:`Option`
entries: name, kind, default, range, unit, label and help. The core validates keyword
arguments against it (:func:`validate`), the worker takes its defaults from it, the command
line builds its arguments from it (:func:`add_arguments`) and the GIMP plug-in builds its
procedure arguments and dialog from it (install.py copies this module beside the plug-in).
Adding an option to a task is one entry here plus the code that uses it.

Standard library only: the GIMP plug-in imports this module in GIMP's own Python.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

#: Kinds of option, and the Python type of their values.
KINDS = {"float": float, "int": int, "bool": bool, "choice": str, "model": str}


@dataclass(frozen=True)
class Option:
    """One option of a task.

    ``name`` is the Python keyword; the command line spells it ``--kebab-case`` and GIMP
    ``kebab-case``. ``label`` carries GIMP's mnemonic (``_``). ``choices`` are ``(value,
    label, help)``. A ``"model"`` option is a model id or ``.onnx`` path, ``None`` for the
    default model. ``group`` is the dialog section the option belongs to.
    """

    name: str
    kind: str
    default: object
    label: str
    help: str
    group: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple[tuple[str, str, str], ...] = ()

    @property
    def flag(self) -> str:
        """The command line's and GIMP's spelling: ``shift_edge`` -> ``shift-edge``."""
        return self.name.replace("_", "-")

    def check(self, value: object) -> object:
        """The value converted to the option's type; ValueError naming the option if it is
        out of range or of the wrong kind."""
        if self.kind == "model":
            # An id, a path or a ModelSpec: the registry resolves it and says what is wrong.
            return None if value in (None, "") else value
        if self.kind == "bool":
            if not isinstance(value, bool | int) or value not in (0, 1):
                raise ValueError(f"{self.name} must be true or false, got {value!r}")
            return bool(value)
        if self.kind == "choice":
            values = [c[0] for c in self.choices]
            if value not in values:
                raise ValueError(f"{self.name} must be one of {tuple(values)}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{self.name} must be a number, got {value!r}")
        if self.kind == "int" and value != int(value):
            raise ValueError(f"{self.name} must be a whole number, got {value!r}")
        number = KINDS[self.kind](value)
        if not (math.isfinite(number) and self.low <= number <= self.high):
            raise ValueError(f"{self.name} must be in [{self.low:g}, {self.high:g}], got {value}")
        return number


_MODEL = Option(
    "model",
    "model",
    None,
    "Sky mod_el",
    "Sky segmentation model: an installed model id or an .onnx file with a manifest beside "
    "it; none for the default model",
    "Model",
)
_REFINE_EDGES = Option(
    "refine_edges",
    "bool",
    True,
    "Refine edges (best _quality)",
    "Make the mask follow the photo's edges at full resolution (recommended); off, the "
    "model's probability is only enlarged",
    "Model",
)
_COLOUR_DENSITY = Option(
    "colour_density",
    "bool",
    False,
    "Colour density (slo_wer)",
    "Before refining, re-estimate the pixels the model is unsure of from the colours of the "
    "sure sky and the sure foreground (helps with sky between branches)",
    "Model",
)
_SHIFT_EDGE = Option(
    "shift_edge",
    "float",
    0.0,
    "Shift e_dge (px)",
    "Grow (+) or shrink (-) the sky by this many pixels",
    "Edge",
    unit="px",
    low=-500.0,
    high=500.0,
)
_FEATHER = Option(
    "feather",
    "float",
    0.0,
    "Fea_ther (px)",
    "Soften the edge: feather radius in pixels, as GIMP's Feather",
    "Edge",
    unit="px",
    low=0.0,
    high=500.0,
)

SELECT_SKY = (
    _SHIFT_EDGE,
    _FEATHER,
    Option(
        "invert",
        "bool",
        False,
        "In_vert",
        "Select everything but the sky",
        "Edge",
    ),
    _MODEL,
    _REFINE_EDGES,
    _COLOUR_DENSITY,
)

ANCHORS = (
    ("horizon", "Horizon", "The sky image's bottom sits on the bottom of the sky region"),
    ("top", "Top", "The sky image's top sits on the top of the sky region"),
)

REPLACE_SKY = (
    Option(
        "scale",
        "float",
        1.0,
        "Sc_ale (x)",
        "Zoom of the new sky on top of the size that just covers the sky region",
        "Sky",
        unit="x",
        low=0.25,
        high=8.0,
    ),
    Option(
        "offset_x",
        "float",
        0.0,
        "Offset _X (share of width)",
        "Move the new sky right (+) or left (-), as a share of the photo's width",
        "Sky",
        unit="share of width",
        low=-1.0,
        high=1.0,
    ),
    Option(
        "offset_y",
        "float",
        0.0,
        "Offset Y (share of hei_ght)",
        "Move the new sky down (+) or up (-), as a share of the photo's height",
        "Sky",
        unit="share of height",
        low=-1.0,
        high=1.0,
    ),
    Option(
        "flip", "bool", False, "Flip the s_ky left-right", "Mirror the new sky left-right", "Sky"
    ),
    Option(
        "anchor",
        "choice",
        "horizon",
        "_Vertical anchor",
        "Where the sky image is pinned: its bottom on the horizon, or its top on the top of "
        "the sky region",
        "Sky",
        choices=ANCHORS,
    ),
    _SHIFT_EDGE,
    _FEATHER,
    Option(
        "defringe",
        "bool",
        True,
        "Defr_inge",
        "Remove the old sky's colour from soft edges; off gives a plain alpha blend",
        "Edge",
    ),
    Option(
        "amount",
        "float",
        0.5,
        "_Match amount (0-1)",
        "How much the foreground takes on the new sky's brightness and colour",
        "Foreground lighting",
        unit="0-1",
        low=0.0,
        high=1.0,
    ),
    Option(
        "brightness",
        "float",
        0.0,
        "_Brightness (stops)",
        "Extra foreground exposure, in stops",
        "Foreground lighting",
        unit="stops",
        low=-2.0,
        high=2.0,
    ),
    Option(
        "temperature",
        "float",
        0.0,
        "Temperat_ure (-1..1)",
        "Extra foreground colour: cooler (-) or warmer (+)",
        "Foreground lighting",
        unit="-1..1",
        low=-1.0,
        high=1.0,
    ),
    Option(
        "lighting",
        "float",
        0.3,
        "Hori_zon light (0-1)",
        "Tint the foreground near the horizon with the new sky's colour",
        "Foreground lighting",
        unit="0-1",
        low=0.0,
        high=1.0,
    ),
    _MODEL,
    _REFINE_EDGES,
    _COLOUR_DENSITY,
)


def _strength(name: str, label: str, help_text: str, high: float = 2.0) -> Option:
    return Option(
        name, "float", 1.0, label, help_text, "Corrections", unit="x measured", low=0.0, high=high
    )


ENHANCE_SKY = (
    _strength(
        "denoise",
        "_Noise reduction (x measured)",
        "Noise reduction in the sky, as a multiple of the noise measured there; 0 = off",
    ),
    _strength(
        "white_balance",
        "White _balance (x measured)",
        "Remove this share of the colour cast measured in the sky (city light's orange, a "
        "green tint); 0 = keep the sky's colour",
        high=1.0,
    ),
    _strength(
        "brightness",
        "Bri_ghtness (x measured)",
        "At night, darken a sky brighter than the scene by this multiple of the measured "
        "amount; 0 = keep its brightness",
    ),
    _strength(
        "contrast",
        "Contr_ast (x measured)",
        "At night, raise a flat sky's contrast by this multiple of the measured amount; "
        "0 = keep it",
    ),
    _SHIFT_EDGE,
    _FEATHER,
    _MODEL,
    _REFINE_EDGES,
    _COLOUR_DENSITY,
)

#: The option tables by task name (the worker protocol's task names).
TASKS = {"mask": SELECT_SKY, "replace": REPLACE_SKY, "enhance": ENHANCE_SKY}


def option(table: tuple[Option, ...], name: str) -> Option:
    """The option called ``name`` in ``table``."""
    for entry in table:
        if entry.name == name:
            return entry
    raise KeyError(f"no option {name!r} in this table")


def check(table: tuple[Option, ...], name: str, value: object) -> object:
    """Check one value against its option in ``table``; see :meth:`Option.check`."""
    return option(table, name).check(value)


def defaults(table: tuple[Option, ...]) -> dict[str, object]:
    """``{name: default}`` of a table."""
    return {entry.name: entry.default for entry in table}


def validate(table: tuple[Option, ...], values: dict[str, object]) -> dict[str, object]:
    """Every option of ``table``: ``values`` checked, the rest at their defaults.

    Raises
    ------
    ValueError
        For an unknown option or a value out of range; the message names the option.
    """
    known = {entry.name: entry for entry in table}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)}")
    return {
        name: entry.check(values[name]) if name in values else entry.default
        for name, entry in known.items()
    }


def _parse_number(entry: Option):
    def parse(text: str) -> float | int:
        try:
            number = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        try:
            return entry.check(number)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = entry.kind  # argparse names the type in its messages
    return parse


def add_arguments(parser: argparse.ArgumentParser, table: tuple[Option, ...]) -> None:
    """Add one argument per option to ``parser``, in groups; ``dest`` is the option's name.

    Booleans that default to off become ``--flag``, those that default to on ``--no-flag``.
    """
    groups: dict[str, argparse._ArgumentGroup] = {}
    for entry in table:
        group = groups.get(entry.group)
        if group is None:
            group = groups[entry.group] = parser.add_argument_group(entry.group.lower())
        help_text = entry.help.replace("%", "%%")
        if entry.kind == "bool":
            flag = f"--no-{entry.flag}" if entry.default else f"--{entry.flag}"
            group.add_argument(
                flag,
                dest=entry.name,
                action="store_false" if entry.default else "store_true",
                help=help_text,
            )
        elif entry.kind == "choice":
            values = [c[0] for c in entry.choices]
            group.add_argument(
                f"--{entry.flag}",
                dest=entry.name,
                choices=values,
                default=entry.default,
                help=f"{help_text} (default {entry.default})",
            )
        elif entry.kind == "model":
            group.add_argument(
                f"--{entry.flag}", dest=entry.name, metavar="NAME|PATH", help=help_text
            )
        else:
            unit = f" {entry.unit}" if entry.unit and not entry.unit[0].isdigit() else ""
            group.add_argument(
                f"--{entry.flag}",
                dest=entry.name,
                type=_parse_number(entry),
                default=entry.default,
                metavar=entry.unit.upper().replace(" ", "_") or "VALUE",
                help=f"{help_text} ({entry.low:g} to {entry.high:g}{unit}, "
                f"default {entry.default:g})",
            )


def from_arguments(args: argparse.Namespace, table: tuple[Option, ...]) -> dict[str, object]:
    """The table's options from parsed arguments (as :func:`add_arguments` named them)."""
    return {entry.name: getattr(args, entry.name) for entry in table}
