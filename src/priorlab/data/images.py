"""Image folders: every image file under a folder, its category, read with PIL and cut to a square tensor.

    folder = ImageFiles("/data/photos")                    # sorted files; category = the parent folder
    x = folder.load(224, fit="crop")                        # [N, 3, 224, 224] in [0, 1]
    split = image_split("/data/imagenet-mini", 64)          # train/ + val/, or a stratified 75/25 split

The one reader behind ``stimuli("images:<folder>")`` and the locality experiment's ``data=images:<folder>``.
Two ways to make a square of side ``size``:

- ``fit="crop"``: cut the largest centred square, then resize it (bilinear).
- ``fit="resize"``: resize the shorter side to ``size`` (bilinear), then cut the centred square — what
  ``torchvision.transforms.Resize(size)`` + ``CenterCrop(size)`` do, to the bit.

Categories: ``category="parent"`` is each file's parent folder relative to the root (``"."`` for files at the top);
``category="top"`` is the first folder under the root (torchvision's ImageFolder: ``root/class/**/file``; files at
the top are skipped).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch

from priorlab.data.digits import Split
from priorlab.errors import UserError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "IMAGE_SUFFIXES", "ImageFiles", "image_split", "imagenet_normalise",
           "read_image", "square", "to_tensor"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Fit = Literal["crop", "resize"]


def read_image(path: Path):
    """The image at ``path`` as an RGB PIL image; an unreadable file is a :class:`UserError`."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise UserError(f"cannot read image '{path}' ({exc.__class__.__name__})") from None


def to_tensor(img) -> torch.Tensor:
    """An RGB PIL image as a float tensor [3, H, W] in [0, 1]."""
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)


def square(img, size: int, fit: Fit = "crop"):
    """A centred ``size`` × ``size`` PIL image (``fit``: crop then resize, or resize then crop; module docstring)."""
    from PIL import Image

    w, h = img.size
    if fit == "crop":
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        return img.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
    short, long = min(w, h), max(w, h)
    new_long = int(size * long / short)
    new_w, new_h = (size, new_long) if w <= h else (new_long, size)
    if (new_w, new_h) != (w, h):
        img = img.resize((new_w, new_h), Image.BILINEAR)
    left, top = int(round((new_w - size) / 2.0)), int(round((new_h - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def imagenet_normalise(x: torch.Tensor) -> torch.Tensor:
    """Colour images [N, 3, H, W] in [0, 1] minus the ImageNet channel mean, over its SD."""
    mean = torch.tensor(IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(IMAGENET_STD)[:, None, None]
    return (x - mean) / std


class ImageFiles:
    """The image files under ``root`` in sorted order, each with its category (module docstring)."""

    def __init__(self, root: str | Path, category: Literal["parent", "top"] = "parent", what: str = "image folder"):
        """``what`` names the folder in error messages (e.g. ``"stimuli folder"``)."""
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise UserError(f"{what} '{root}' does not exist or is not a folder")
        files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        rel = [p.relative_to(self.root) for p in files]
        if category == "top":
            keep = [i for i, r in enumerate(rel) if len(r.parts) > 1]
            files, cats = [files[i] for i in keep], [rel[i].parts[0] for i in keep]
        else:
            cats = [str(r.parent) for r in rel]
        if not files:
            raise UserError(f"{what} '{root}' holds no images ({', '.join(IMAGE_SUFFIXES)})")
        self.files: list[Path] = files
        self.categories: list[str] = cats

    def __len__(self) -> int:
        return len(self.files)

    @property
    def classes(self) -> list[str]:
        """The distinct categories, sorted (label k is ``classes[k]``)."""
        return sorted(set(self.categories))

    @property
    def labels(self) -> torch.Tensor:
        """The category of every file as an index into :attr:`classes` (int64)."""
        index = {c: k for k, c in enumerate(self.classes)}
        return torch.tensor([index[c] for c in self.categories])

    def load(self, size: int, fit: Fit = "crop", indices: list[int] | None = None) -> torch.Tensor:
        """Files ``indices`` (default: all) as squares [N, 3, size, size] in [0, 1]."""
        picks = range(len(self.files)) if indices is None else indices
        return torch.stack([to_tensor(square(read_image(self.files[i]), size, fit)) for i in picks])


def files_classes(root: Path) -> list[str]:
    """The top-level categories of an image folder (what :func:`image_split` labels)."""
    return ImageFiles(root, category="top").categories


def image_split(root: str | Path, size: int, what: str = "image folder") -> Split:
    """An ImageFolder (``class/xxx.png``) resized (shorter side) and centre-cropped to ``size`` and normalised with
    the ImageNet mean and SD; ``train/`` and ``val/`` subfolders are used when both exist, otherwise a stratified
    75/25 split (fixed: ``random_state=0``)."""
    root = Path(root)

    def load(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
        files = ImageFiles(folder, category="top", what=what)
        return imagenet_normalise(files.load(size, fit="resize")), files.labels

    if (root / "train").is_dir() and (root / "val").is_dir():
        (xtr, ytr), (xte, yte) = load(root / "train"), load(root / "val")
        return Split(xtr, ytr, xte, yte)
    from sklearn.model_selection import train_test_split

    x, y = load(root)
    counts = np.bincount(y.numpy())
    if len(counts) < 2 or counts.min() < 2:
        few = min(range(len(counts)), key=lambda k: counts[k])
        raise UserError(f"{what} '{root}' needs at least 2 images in every class for a 75/25 split "
                        f"(class '{sorted(set(files_classes(root)))[few]}' has {counts[few]})"
                        if len(counts) >= 2 else f"{what} '{root}' holds one class only (at least 2 needed)")
    try:
        tr, te = train_test_split(np.arange(len(y)), test_size=0.25, random_state=0, stratify=y.numpy())
    except ValueError as exc:
        raise UserError(f"{what} '{root}' cannot be split 75/25 by class: {str(exc).splitlines()[0][:200]}") \
            from None
    return Split(x[tr], y[tr], x[te], y[te])
