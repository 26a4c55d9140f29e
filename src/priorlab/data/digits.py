"""scikit-learn's handwritten digits (1797 images of 8x8, shipped inside the package: no download)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Split:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()).item()) + 1


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 in [0, 1], shape [1797, 8, 8], and labels [1797] (int64)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target.astype(np.int64)


def digits(
    test_fraction: float = 0.25,
    seed: int = 0,
    flatten: bool = True,
    standardize: bool = True,
    image_size: int | None = None,
) -> Split:
    """A stratified train/test split of the digits.

    flatten: [N, 64] vectors; otherwise [N, 1, 8, 8] images (resized to `image_size` when given, bilinear).
    standardize: subtract the training mean and divide by the training SD (per feature for vectors, one scalar for images).
    """
    from sklearn.model_selection import train_test_split

    x, y = load_digits_arrays()
    idx_tr, idx_te = train_test_split(
        np.arange(len(y)), test_size=test_fraction, random_state=seed, stratify=y
    )
    xt = torch.from_numpy(x)[:, None]  # [N, 1, 8, 8]
    if image_size is not None and image_size != 8:
        xt = torch.nn.functional.interpolate(xt, size=(image_size, image_size), mode="bilinear", align_corners=False)
    if flatten:
        xt = xt.reshape(len(xt), -1)
    yt = torch.from_numpy(y)
    xtr, xte = xt[idx_tr], xt[idx_te]
    if standardize:
        if flatten:
            mu, sd = xtr.mean(0), xtr.std(0).clamp_min(1e-3)
        else:
            mu, sd = xtr.mean(), xtr.std()
        xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    return Split(xtr.contiguous(), yt[idx_tr], xte.contiguous(), yt[idx_te])
