"""benchmarks/dev_eval.py: the human-labelled photos are read and scored as their README says."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import dev_eval  # noqa: E402


@pytest.fixture(scope="module")
def cases() -> list[dev_eval.Case]:
    return dev_eval.list_cases()


def test_every_photo_is_listed_with_its_subset(cases):
    assert len(cases) == 249
    counts = {s: sum(c.subset == s for c in cases) for s in dev_eval.SUBSETS}
    assert counts == {"camvid": 136, "cityscapes": 80, "ade20k": 33}
    assert sum(c.has_sky for c in cases) == 204
    assert not any(c.has_sky for c in cases if c.subset == "ade20k")
    assert all(c.ignore is not None for c in cases if c.subset == "camvid")


def test_the_labels_score_perfectly_and_all_sky_is_all_false_sky(cases):
    few = (
        [c for c in cases if c.subset == "camvid"][:3]
        + [c for c in cases if c.subset == "cityscapes" and not c.has_sky][:2]
        + [c for c in cases if c.subset == "ade20k"][:2]
    )

    def truth(rgb, case):
        return cv2.imread(str(case.mask), cv2.IMREAD_GRAYSCALE) / 255.0

    perfect = dev_eval.score(truth, few).summary(few)
    assert perfect["iou_all"] == 1.0 and perfect["bf_all"] == 1.0
    assert perfect["false_all"] == 0.0

    def everything(rgb, case):
        return np.ones(rgb.shape[:2], np.float32)

    sky_everywhere = dev_eval.score(everything, few).summary(few)
    assert sky_everywhere["false_all"] == 1.0 and sky_everywhere["false_ade20k"] == 1.0
    # IoU of all-sky is the labelled sky's share of the labelled pixels: well below 1.
    assert 0.05 < sky_everywhere["iou_camvid"] < 0.5
