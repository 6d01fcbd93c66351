"""benchmarks/eval_model.py: its sections print only the figures asked for.

Needs the Debian package ``stellarium-data`` (the timing figure's 12 MP composite).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from training.composites import list_landscapes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import eval_model  # noqa: E402


@pytest.mark.skipif(not list_landscapes(), reason="needs the Debian package stellarium-data")
def test_timing_section_alone_prints_only_the_timing_figures(capsys):
    eval_model.main(["--sections", "timing", "--repeats", "1"])
    lines = capsys.readouterr().out.splitlines()
    headings = [line.split(" ", 1)[0] for line in lines if line[:1].isdigit()]
    assert headings == ["5."]
    assert any("12 MP photo -> refined mask" in line for line in lines)


def test_figure_without_the_photos_section_is_refused(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        eval_model.main(["--sections", "timing", "--figure", str(tmp_path / "f.jpg")])
    assert exit_info.value.code == 2
    assert "add photos to --sections" in capsys.readouterr().err
    assert not (tmp_path / "f.jpg").exists()
