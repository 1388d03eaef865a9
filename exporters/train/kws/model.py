"""The keyword-spotting network: the in-graph log-mel front, then a small CNN.

Four 3x3 conv blocks (BatchNorm, ReLU), the first three with stride 2, global average pooling and
one linear layer: about 55 thousand parameters and 5 million multiply-adds per second of audio.
A depthwise-separable CNN (DS-CNN, "Hello Edge", 2017) has fewer multiply-adds, but PyTorch's
CPU kernels for depthwise convolutions train it slower (one run, a batch of 64: 2.37 s for a
21k-parameter DS-CNN, 1.51 s for an 80k-parameter plain CNN), and training time on the
workstation is the budget that binds.
"""

from __future__ import annotations

from torch import Tensor, nn

from exporters.train.kws.features import LogMel, MelSpec


def _block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class KwsNet(nn.Module):
    """[batch, samples] audio → [batch, classes] logits."""

    def __init__(self, classes: int, spec: MelSpec | None = None, width: int = 64) -> None:
        super().__init__()
        if classes < 2 or width < 4:
            raise ValueError(f"expected classes >= 2 and width >= 4, got {classes} and {width}")
        self.features = LogMel(spec or MelSpec())
        # Log power varies by tens of dB between a whisper and a shout: one learned affine map
        # (folded into the next conv at export) centres it.
        self.norm = nn.BatchNorm2d(1)
        c = [width // 4, width // 2, width, width]
        self.body = nn.Sequential(
            *_block(1, c[0], 2),
            *_block(c[0], c[1], 2),
            *_block(c[1], c[2], 2),
            *_block(c[2], c[3], 1),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(0.1),
        )
        self.head = nn.Linear(width, classes)

    def forward(self, audio: Tensor) -> Tensor:
        out: Tensor = self.head(self.body(self.norm(self.features(audio))))
        return out
