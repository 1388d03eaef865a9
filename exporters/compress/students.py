"""Student architectures by name: `mobilenet_v2:WIDTH` (the exporter's MobileNetV2 at a width
multiplier, e.g. 0.35) and `cnn:WIDTH` (four conv-BN-ReLU stages of WIDTH·(1, 2, 4, 8) channels,
each halving the image, then global pooling and one linear layer)."""

from __future__ import annotations

from typing import Any

from exporters.errors import UsageError

STUDENTS = ("mobilenet_v2", "cnn")


def _cnn(classes: int, width: int) -> Any:
    from torch import nn

    layers: list[nn.Module] = []
    cin = 3
    for k in (1, 2, 4, 8):
        cout = width * k
        layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes)]
    return nn.Sequential(*layers)


def build_student(spec: str, classes: int) -> Any:
    """A fresh (randomly initialised) student for `classes` outputs, or UsageError naming the spec."""
    name, _, arg = spec.partition(":")
    try:
        if name == "mobilenet_v2":
            from exporters.models.mobilenet_v2 import mobilenet_v2

            width = float(arg or 0.35)
            if not 0 < width <= 1.0:
                raise ValueError(width)
            return mobilenet_v2(num_classes=classes, width_mult=width)
        if name == "cnn":
            channels = int(arg or 16)
            if channels < 1:
                raise ValueError(channels)
            return _cnn(classes, channels)
    except ValueError:
        pass
    raise UsageError(
        f"--student {spec}: expected mobilenet_v2:WIDTH (0 < WIDTH <= 1) or cnn:CHANNELS (>= 1), "
        f"one of {', '.join(STUDENTS)}"
    )
