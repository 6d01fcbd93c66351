"""The plug-in's procedure arguments, as GIMP registered them, against skycore's option tables:
every option of each task, with its default and range, and nothing declared twice."""

from __future__ import annotations

import json

import pytest

from skycore import options

DUMP = """
import json, os
pdb = Gimp.get_pdb()
found = {}
for name in ("plug-in-select-sky", "plug-in-replace-sky", "plug-in-enhance-sky"):
    arguments = {}
    for spec in pdb.lookup_procedure(name).get_arguments():
        entry = {"type": type(spec).__name__}
        for attribute in ("minimum", "maximum"):
            if hasattr(spec, attribute):
                entry[attribute] = getattr(spec, attribute)
        default = spec.get_default_value()
        if isinstance(default, (bool, int, float, str)):
            entry["default"] = default
        arguments[spec.get_name()] = entry
    found[name] = arguments
with open(os.environ["SKY_TEST_OUT"], "w") as fh:
    json.dump(found, fh)
"""

PROCEDURES = {
    "plug-in-select-sky": options.SELECT_SKY,
    "plug-in-replace-sky": options.REPLACE_SKY,
    "plug-in-enhance-sky": options.ENHANCE_SKY,
}


@pytest.fixture(scope="module")
def registered(gimp) -> dict:
    out = gimp.work / "procedure-arguments.json"
    done = gimp.batch(DUMP, env={"SKY_TEST_OUT": str(out)})
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("procedure", PROCEDURES)
def test_every_option_is_an_argument_with_the_table_default_and_range(registered, procedure):
    arguments = registered[procedure]
    for entry in PROCEDURES[procedure]:
        assert entry.flag in arguments, entry.flag
        argument = arguments[entry.flag]
        if entry.kind == "model":
            assert argument["default"] == "default"
        else:
            assert argument["default"] == entry.default, entry.flag
        if entry.kind in ("float", "int"):
            assert (argument["minimum"], argument["maximum"]) == (entry.low, entry.high)
