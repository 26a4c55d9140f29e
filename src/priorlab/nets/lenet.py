"""A small LeNet for 8×8 digits (scikit-learn) or 28×28 MNIST.

    net = lenet()                      # 8×8 input, 3×3 kernels: trains on digits in seconds
    net = lenet(image_size=28)         # classic LeNet-5 sizes (5×5 kernels) for MNIST

Every stage is a named child of one ``nn.Sequential``, as ``print(net)`` shows:
conv1, relu1, pool1, conv2, relu2, pool2, flatten, fc1, relu3, fc2, relu4, fc3 — so
``priorlab.probe.capture(net, x, layers=["conv1", "pool1", "fc1"])`` names layers by those paths.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn


class LeNet(nn.Sequential):
    """conv → relu → pool, twice, then fully connected layers (`hidden`) and a linear readout."""

    def __init__(
        self,
        image_size: int = 8,
        in_channels: int = 1,
        n_classes: int = 10,
        channels: tuple[int, int] = (6, 16),
        hidden: Sequence[int] = (120, 84),
        kernel_size: int | None = None,
    ):
        if image_size < 4:
            raise ValueError(f"image_size must be ≥ 4, got {image_size}")
        k = kernel_size or (3 if image_size < 16 else 5)
        c1, c2 = channels
        stages: OrderedDict[str, nn.Module] = OrderedDict(
            conv1=nn.Conv2d(in_channels, c1, k, padding=k // 2),
            relu1=nn.ReLU(),
            pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(c1, c2, k, padding=k // 2 if image_size < 16 else 0),
            relu2=nn.ReLU(),
            pool2=nn.MaxPool2d(2),
            flatten=nn.Flatten(),
        )
        with torch.no_grad():  # the flattened size follows from the image size
            n_in = nn.Sequential(stages)(torch.zeros(1, in_channels, image_size, image_size)).shape[1]
        for i, n_out in enumerate(hidden, start=1):
            stages[f"fc{i}"] = nn.Linear(n_in, n_out)
            stages[f"relu{i + 2}"] = nn.ReLU()
            n_in = n_out
        stages[f"fc{len(hidden) + 1}"] = nn.Linear(n_in, n_classes)
        super().__init__(stages)
        self.image_size = image_size
        self.in_channels = in_channels

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one input image."""
        return (self.in_channels, self.image_size, self.image_size)


def lenet(image_size: int = 8, in_channels: int = 1, n_classes: int = 10, **kwargs) -> LeNet:
    return LeNet(image_size=image_size, in_channels=in_channels, n_classes=n_classes, **kwargs)
