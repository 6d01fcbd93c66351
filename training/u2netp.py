"""U^2-Net-p (Qin et al., "U^2-Net: Going deeper with nested U-structure for salient object
detection", Pattern Recognition 2020), the architecture of the seed's sky model.

Six encoder and five decoder stages, each a residual U-block (RSU) of its own; a 3x3 side
head on each decoder stage and on the deepest encoder stage, all upsampled to the input size
and fused by a 1x1 convolution. The seed's published weights have BatchNorm folded into the
convolutions, so every 3x3 convolution here carries a bias and no BatchNorm follows it: the
imported weights load as they are, and fine-tuning starts from exactly the published network.

Input ``N x 3 x H x W`` normalised RGB (ImageNet mean and std); ``forward`` returns the sky
probability ``N x 1 x H x W`` (sigmoid inside). Pooling uses ceil mode and every upsampling
takes its size from the tensor it is joined with, so any size runs; multiples of 32 keep every
level aligned.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Channels of U^2-Net-p: every stage outputs 64, every U-block works on 16 inside.
STAGE_CHANNELS = 64
INNER_CHANNELS = 16


class ConvReLU(nn.Sequential):
    """3x3 convolution (dilated by ``dilation``, same size out) with bias, then ReLU."""

    def __init__(self, c_in: int, c_out: int, dilation: int = 1):
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=dilation, dilation=dilation),
            nn.ReLU(inplace=True),
        )


def upsample_like(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of ``x`` to the height and width of ``like`` (half-pixel centres)."""
    return F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=False)


def _pool(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, 2, 2, ceil_mode=True)


class RSU(nn.Module):
    """Residual U-block of ``height`` levels.

    The plain block pools between its encoder levels and upsamples in its decoder, with a
    dilation-2 convolution at the bottom. The ``dilated`` block (RSU-4F, for the coarsest
    stages) keeps the resolution and widens with dilations 1, 2, 4 and 8 instead.
    """

    def __init__(self, height: int, c_in: int, c_mid: int, c_out: int, *, dilated: bool = False):
        super().__init__()
        self.dilated = dilated
        levels = height - 1
        rates = [2**i if dilated else 1 for i in range(levels)]
        self.conv_in = ConvReLU(c_in, c_out)
        self.encoder = nn.ModuleList(
            ConvReLU(c_out if i == 0 else c_mid, c_mid, rates[i]) for i in range(levels)
        )
        self.bottom = ConvReLU(c_mid, c_mid, 2**levels if dilated else 2)
        self.decoder = nn.ModuleList(
            ConvReLU(2 * c_mid, c_out if i == 0 else c_mid, rates[i])
            for i in reversed(range(levels))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        start = self.conv_in(x)
        skips = []
        h = start
        for i, conv in enumerate(self.encoder):
            if i and not self.dilated:
                h = _pool(h)
            h = conv(h)
            skips.append(h)
        h = self.bottom(h)
        for i, (conv, skip) in enumerate(zip(self.decoder, reversed(skips), strict=True)):
            if i and not self.dilated:
                h = upsample_like(h, skip)
            h = conv(torch.cat((h, skip), 1))
        return h + start


class U2NetP(nn.Module):
    """U^2-Net-p: 1.13 M parameters, layer for layer the seed's ``skysegsmall`` network."""

    def __init__(self) -> None:
        super().__init__()
        c, m = STAGE_CHANNELS, INNER_CHANNELS
        self.encoder = nn.ModuleList(
            [
                RSU(7, 3, m, c),
                RSU(6, c, m, c),
                RSU(5, c, m, c),
                RSU(4, c, m, c),
                RSU(4, c, m, c, dilated=True),
                RSU(4, c, m, c, dilated=True),
            ]
        )
        self.decoder = nn.ModuleList(
            [
                RSU(4, 2 * c, m, c, dilated=True),
                RSU(4, 2 * c, m, c),
                RSU(5, 2 * c, m, c),
                RSU(6, 2 * c, m, c),
                RSU(7, 2 * c, m, c),
            ]
        )
        # Side heads, finest first: on decoder stages 1..5 and on the deepest encoder stage.
        self.sides = nn.ModuleList(nn.Conv2d(c, 1, 3, padding=1) for _ in range(6))
        self.fuse = nn.Conv2d(6, 1, 1)

    def side_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The fused logit and the six side logits (finest first), all at the input size."""
        features = []
        h = x
        for i, stage in enumerate(self.encoder):
            if i:
                h = _pool(h)
            h = stage(h)
            features.append(h)
        decoded = []
        for stage, skip in zip(self.decoder, reversed(features[:-1]), strict=True):
            h = stage(torch.cat((upsample_like(h, skip), skip), 1))
            decoded.append(h)
        heads = [*reversed(decoded), features[-1]]
        sides = [side(h) for side, h in zip(self.sides, heads, strict=True)]
        sides = [sides[0]] + [upsample_like(s, sides[0]) for s in sides[1:]]
        return self.fuse(torch.cat(sides, 1)), sides

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.side_logits(x)[0])
