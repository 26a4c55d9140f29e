"""A small ImageFolder made on the spot from the photos inside the scikit-image wheel (no download).

    root = write_sample_folder(run_folder / "images", per_class=16, size=64)   # root/<photo>/<k>.png
    split = image_split(root, 64)                                                # the one image-folder loader

Each photo (astronaut, chelsea, coffee, …; those of :data:`priorlab.data.stimuli.SKIMAGE_PHOTOS` present in the
wheel) is one class; its images are random square crops (30–100 % of the shorter side's square) with random
horizontal flips, resized to ``size``. The crops depend only on ``seed``. For the locality experiment's
``data=samples`` (AlexNet fc6 in the demo): a task with real photographs that a CPU trains in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from priorlab.data.images import read_image
from priorlab.data.stimuli import SKIMAGE_PHOTOS
from priorlab.errors import UserError

__all__ = ["sample_photos", "write_sample_folder"]


def sample_photos() -> list[Path]:
    """The scikit-image sample photos present in the installed wheel (the ``vision`` extra)."""
    try:
        import skimage.data
    except ImportError:
        raise UserError("data=samples needs scikit-image (pip install 'priorlab[vision]')") from None
    folder = Path(skimage.data.__file__).parent
    files = [folder / f for f in SKIMAGE_PHOTOS if (folder / f).exists()]
    if len(files) < 2:
        raise UserError(f"data=samples: fewer than 2 sample photos found in {folder}")
    return files


def write_sample_folder(root: str | Path, per_class: int = 16, size: int = 64, seed: int = 0) -> Path:
    """Write ``per_class`` crops of each sample photo as ``root/<photo>/<k>.png`` (size × size RGB); returns root."""
    from PIL import Image

    if per_class < 2 or size < 8:
        raise ValueError(f"per_class must be ≥ 2 and size ≥ 8, got {per_class}, {size}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    for path in sample_photos():
        img = read_image(path)
        (root / path.stem).mkdir(parents=True, exist_ok=True)
        w, h = img.size
        for k in range(per_class):
            side = max(8, int(min(w, h) * np.sqrt(rng.uniform(0.3, 1.0))))
            left, top = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
            patch = img.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
            if rng.integers(2):
                patch = patch.transpose(Image.FLIP_LEFT_RIGHT)
            patch.save(root / path.stem / f"{k:03d}.png")
    return root
