"""SkySeg-Lite: a compact U-Net of depthwise-separable (inverted-residual) blocks.

Input ``N x 3 x H x W`` normalised RGB with H and W multiples of 32; output ``N x 1 x H x W``
sky probability (sigmoid inside the model). Every upsampling doubles its input, so any such
size runs, and the exported ONNX graph keeps H and W dynamic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn_act(c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise (optionally strided/dilated), 1x1 project."""

    def __init__(
        self, c_in: int, c_out: int, *, stride: int = 1, expand: int = 4, dilation: int = 1
    ):
        super().__init__()
        hidden = c_in * expand
        self.residual = stride == 1 and c_in == c_out
        self.body = nn.Sequential(
            _conv_bn_act(c_in, hidden),
            nn.Conv2d(
                hidden, hidden, 3, stride, dilation, dilation=dilation, groups=hidden, bias=False
            ),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


def _stage(
    c_in: int, c_out: int, blocks: int, *, stride: int, expand: int = 4, dilation: int = 1
) -> nn.Sequential:
    layers = [InvertedResidual(c_in, c_out, stride=stride, expand=expand)]
    layers += [
        InvertedResidual(c_out, c_out, expand=expand, dilation=dilation) for _ in range(blocks - 1)
    ]
    return nn.Sequential(*layers)


class GlobalContext(nn.Module):
    """Adds the image-wide mean feature back to every pixel: sky is a global decision."""

    def __init__(self, channels: int):
        super().__init__()
        self.project = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(x.mean(dim=(2, 3), keepdim=True))


class DecoderBlock(nn.Module):
    """Upsample x2, concatenate the skip, mix with a depthwise-separable convolution."""

    def __init__(self, c_in: int, c_skip: int, c_out: int):
        super().__init__()
        self.mix = nn.Sequential(
            _conv_bn_act(c_in + c_skip, c_in + c_skip, 3, groups=c_in + c_skip),
            _conv_bn_act(c_in + c_skip, c_out),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.mix(torch.cat([x, skip], dim=1))


class SkySegLite(nn.Module):
    """Encoder at strides 2..32, U-Net decoder back to stride 2, bilinear to full size."""

    #: Channels of the stem and the four encoder stages, by default.
    WIDTHS = (16, 24, 32, 64, 128)

    def __init__(self, widths: tuple[int, ...] = WIDTHS):
        super().__init__()
        self.widths = tuple(widths)
        w0, w1, w2, w3, w4 = widths
        self.stem = _conv_bn_act(3, w0, 3, stride=2)  # /2
        self.enc1 = _stage(w0, w1, 2, stride=2, expand=3)  # /4
        self.enc2 = _stage(w1, w2, 3, stride=2)  # /8
        self.enc3 = _stage(w2, w3, 3, stride=2)  # /16
        self.enc4 = _stage(w3, w4, 3, stride=2, dilation=2)  # /32
        self.context = GlobalContext(w4)
        self.dec3 = DecoderBlock(w4, w3, w3)
        self.dec2 = DecoderBlock(w3, w2, w2)
        self.dec1 = DecoderBlock(w2, w1, w1)
        self.dec0 = DecoderBlock(w1, w0, w0)
        self.head = nn.Conv2d(w0, 1, 1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Sky logits at the input's full size (no sigmoid), for training losses."""
        s0 = self.stem(x)
        s1 = self.enc1(s0)
        s2 = self.enc2(s1)
        s3 = self.enc3(s2)
        s4 = self.context(self.enc4(s3))
        y = self.dec3(s4, s3)
        y = self.dec2(y, s2)
        y = self.dec1(y, s1)
        y = self.dec0(y, s0)
        y = self.head(y)
        return F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
