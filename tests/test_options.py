"""Tests of skycore.options: one table per task drives the core, the CLI and the worker."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys

import pytest

from skycore import enhance, options, pipeline
from skycore.cli import build_parser

TABLES = {
    "mask": (options.SELECT_SKY, pipeline.select_sky),
    "replace": (options.REPLACE_SKY, pipeline.replace_sky),
    "enhance": (options.ENHANCE_SKY, enhance.enhance_sky),
}


@pytest.mark.parametrize("task", TABLES)
def test_the_core_signature_is_the_table(task):
    table, function = TABLES[task]
    parameters = inspect.signature(function).parameters
    keywords = {name: p.default for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY}
    keywords.pop("composite", None)  # how the result is returned, not an option
    keywords.pop("probability")  # a result the caller may already have, not an option
    assert keywords == options.defaults(table)


@pytest.mark.parametrize("task", TABLES)
def test_every_option_is_declared_once_with_its_range(task):
    table, _ = TABLES[task]
    names = [entry.name for entry in table]
    assert len(names) == len(set(names))
    for entry in table:
        assert entry.kind in options.KINDS
        assert entry.help and entry.label and entry.group
        if entry.kind in ("float", "int"):
            assert entry.low <= entry.default <= entry.high, entry.name
        if entry.kind == "choice":
            assert entry.default in [value for value, _, _ in entry.choices]
        assert options.check(table, entry.name, entry.default) == entry.default


@pytest.mark.parametrize("task", TABLES)
def test_mnemonics_are_unique_in_each_dialog(task):
    """GIMP's dialog buttons take o (OK), c (Cancel), r (Reset), h (Help), l (Load Saved
    Settings) and s (Save Settings), the preview's toggle p; GIMP itself logs duplicates
    among its own widgets (tests/gimp checks the log)."""
    table, _ = TABLES[task]
    letters = [re.search(r"_(\w)", entry.label).group(1).lower() for entry in table]
    assert len(letters) == len(set(letters))
    assert not set(letters) & set("ocrhlsp")


def test_validate_fills_defaults_and_names_bad_options():
    settings = options.validate(options.SELECT_SKY, {"feather": 3})
    assert settings == {**options.defaults(options.SELECT_SKY), "feather": 3.0}
    with pytest.raises(ValueError, match="unknown option.*sharpen"):
        options.validate(options.SELECT_SKY, {"sharpen": 1})
    with pytest.raises(ValueError, match=r"feather must be in \[0, 500\], got -1"):
        options.validate(options.SELECT_SKY, {"feather": -1})
    with pytest.raises(ValueError, match="anchor must be one of"):
        options.validate(options.REPLACE_SKY, {"anchor": "middle"})
    with pytest.raises(ValueError, match="invert must be true or false"):
        options.validate(options.SELECT_SKY, {"invert": "yes"})
    with pytest.raises(ValueError, match="scale must be a number"):
        options.validate(options.REPLACE_SKY, {"scale": "2"})


@pytest.mark.parametrize(
    ("command", "task"),
    [
        (["mask", "p.jpg", "-o", "out"], "mask"),
        (["replace", "p.jpg", "--sky", "s.jpg", "-o", "r.jpg"], "replace"),
        (["enhance", "p.jpg", "-o", "out"], "enhance"),
    ],  # fmt: skip
)
def test_the_command_line_offers_every_option_with_the_table_defaults(command, task):
    table, _ = TABLES[task]
    args = build_parser().parse_args(command)
    assert options.from_arguments(args, table) == options.defaults(table)
    changed = {"model": "m.onnx"}
    flags = ["--model", "m.onnx"]
    for entry in table:
        if entry.kind == "bool":
            flags.append(f"--no-{entry.flag}" if entry.default else f"--{entry.flag}")
            changed[entry.name] = not entry.default
        elif entry.kind == "choice":
            flags += [f"--{entry.flag}", entry.choices[-1][0]]
            changed[entry.name] = entry.choices[-1][0]
        elif entry.kind in ("float", "int"):
            flags += [f"--{entry.flag}", str(entry.high)]
            changed[entry.name] = entry.high
    args = build_parser().parse_args(command + flags)
    assert options.from_arguments(args, table) == changed


def test_the_tables_import_with_the_standard_library_only():
    code = (
        "import sys; from skycore import options, protocol, registry; "
        "print(sorted(m for m in ('numpy', 'cv2', 'onnxruntime', 'PIL') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
