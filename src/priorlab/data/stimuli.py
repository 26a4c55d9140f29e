"""Stimulus sets for looking inside a network: images as a [N, C, H, W] tensor, grouped by category.

    s = stimuli("digits", n=100, image_size=8)                       # scikit-learn digits, 10 per class
    s = stimuli("samples", n=64, image_size=224, channels=3)         # photos shipped inside scikit-image
    s = stimuli("images:/data/my_photos", n=200, image_size=299)     # any folder of images, any depth

- ``digits``: scikit-learn's 8×8 handwritten digits, an equal number per class (resized when `image_size` ≠ 8).
- ``images:<folder>``: every image file under the folder (jpg, png, bmp, gif, tif, webp, ppm, pgm), read with PIL
  (:class:`priorlab.data.images.ImageFiles`); the category is the file's parent folder, files in sorted order.
- ``samples``: the colour photographs that ship inside the scikit-image wheel (astronaut, chelsea, coffee, …), read
  from the package folder without any download.

Photos are centre-cropped to a square and resized to `image_size`; when more stimuli are asked for than there
are files, the extra ones are random crops (30–100 % of the area) with random horizontal flips of the same files.
Stimuli are sorted by category, so RDMs show blocks. Colour stimuli are normalised with the ImageNet channel mean
and SD (what torchvision models expect); grey ones to zero mean and unit SD over the set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from priorlab.data.images import ImageFiles, imagenet_normalise, read_image, square, to_tensor
from priorlab.errors import UserError

SKIMAGE_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "ihc.png",
)
KINDS = "digits, samples, images:<folder>"


@dataclass
class Stimuli:
    x: torch.Tensor  # [N, C, H, W], normalised
    labels: list[str]  # category of each stimulus (sorted: equal labels are adjacent)
    description: str

    def __len__(self) -> int:
        return len(self.x)


def stimuli(spec: str, n: int, image_size: int | None = None, channels: int = 1, seed: int = 0) -> Stimuli:
    """`n` stimuli of `channels` × `image_size`² (None: the source's own size, 8 for digits, 224 for photos)."""
    if n < 1:
        raise UserError(f"n_stimuli must be ≥ 1, got {n}")
    if channels not in (1, 3):
        raise UserError(f"stimuli have 1 or 3 channels, got {channels}")
    rng = np.random.default_rng(seed)
    if spec == "digits":
        x, labels, desc = _digits(n, image_size or 8, rng)
    elif spec == "samples":
        folder = Path(__import__("skimage").data.__file__).parent
        files = [folder / f for f in SKIMAGE_PHOTOS if (folder / f).exists()]
        x, labels = _photos(files, [f.stem for f in files], n, image_size or 224, rng)
        desc = f"{n} crops of {len(files)} photos shipped with scikit-image"
    elif spec.startswith("images:"):
        folder = ImageFiles(spec.removeprefix("images:"), what="stimuli folder")
        files, cats = folder.files, folder.categories
        x, labels = _photos(files, cats, n, image_size or 224, rng)
        desc = f"{n} images from {spec.removeprefix('images:')} ({len(files)} files, {len(set(cats))} categories)"
    else:
        raise UserError(f"invalid stimuli '{spec}' (allowed: {KINDS})")
    x = _to_channels(x, channels)
    return Stimuli(_normalise(x), labels, desc)


# ----------------------------------------------------------------------------------------------
def _digits(n: int, size: int, rng: np.random.Generator) -> tuple[torch.Tensor, list[str], str]:
    from priorlab.data.digits import load_digits_arrays

    images, y = load_digits_arrays()
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in range(10)]
    counts = [n // 10 + (c < n % 10) for c in range(10)]
    if any(k > len(p) for k, p in zip(counts, per_class)):
        raise UserError(
            f"n_stimuli={n} is more than the digits have (at most {10 * min(map(len, per_class))})"
        )
    idx = np.concatenate([p[:k] for p, k in zip(per_class, counts)])
    x = torch.from_numpy(images[idx])[:, None]
    if size != 8:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x, [str(int(c)) for c in y[idx]], f"{n} scikit-learn digits ({n // 10}+ per class)"


def _photos(
    files: list[Path], cats: list[str], n: int, size: int, rng: np.random.Generator
) -> tuple[torch.Tensor, list[str]]:
    """The first min(n, len(files)) files centre-cropped, then random crops/flips; sorted by category."""
    if n <= len(files):
        picks = sorted(rng.choice(len(files), size=n, replace=False))
        crops = [(i, None) for i in picks]
    else:
        crops = [(i, None) for i in range(len(files))]
        crops += [(int(rng.integers(len(files))), rng) for _ in range(n - len(files))]
    cache: dict[int, object] = {}
    out = []
    for i, r in crops:
        if i not in cache:
            cache[i] = read_image(files[i])
        out.append(_crop(cache[i], size, r))
    order = sorted(range(n), key=lambda j: (cats[crops[j][0]], crops[j][0]))
    x = torch.stack([out[j] for j in order])
    return x, [cats[crops[j][0]] for j in order]


def _crop(img, size: int, rng: np.random.Generator | None) -> torch.Tensor:
    """Centre crop (rng None) or a random crop of 30–100 % of the area with a random flip; [3, size, size]."""
    from PIL import Image

    if rng is None:
        return to_tensor(square(img, size, fit="crop"))
    w, h = img.size
    side = int(min(w, h) * np.sqrt(rng.uniform(0.3, 1.0)))
    left, top = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    flip = bool(rng.integers(2))
    patch = img.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
    if flip:
        patch = patch.transpose(Image.FLIP_LEFT_RIGHT)
    return to_tensor(patch)


def _to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    if x.shape[1] == channels:
        return x
    if channels == 3:
        return x.expand(-1, 3, -1, -1).contiguous()
    return (x * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(1, keepdim=True)  # luminance


def _normalise(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 3:
        return imagenet_normalise(x)
    return (x - x.mean()) / x.std().clamp_min(1e-6)
