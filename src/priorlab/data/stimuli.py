"""Stimulus sets for looking inside a network: images as a [N, C, H, W] tensor, grouped by category.

    s = stimuli("digits", n=100, image_size=8)                       # scikit-learn digits, 10 per class
    s = stimuli("samples", n=64, image_size=224, channels=3)         # photos shipped inside scikit-image
    s = stimuli("images:/data/my_photos", n=200, image_size=299)     # any folder of images, any depth

- ``digits``: scikit-learn's 8×8 handwritten digits, an equal number per class (resized when `image_size` ≠ 8).
- ``images:<folder>``: every image file under the folder (jpg, png, bmp, gif, tif, webp, ppm, pgm), read with PIL
  (:class:`priorlab.data.images.ImageFiles`); the category is the file's parent folder, files in sorted order.
- ``samples``: the colour photographs that ship inside the scikit-image wheel (astronaut, chelsea, coffee, …), read
  from the package folder without any download.

Files are drawn stratified by category: each category gets n // C files (the remainder goes to the first
categories, in sorted order, and a category with too few files passes its share on), chosen at random within the
category by `seed`. Photos are centre-cropped to a square and resized to `image_size`. Asking for more stimuli than
there are files is an error unless ``augment=True``: then every file is used once and the extra stimuli are random
crops (30–100 % of the area) with random horizontal flips, drawn round-robin over the categories;
``Stimuli.n_original`` says how many are the files themselves. Stimuli are sorted by category, so RDMs show blocks.
Colour stimuli are normalised with the ImageNet channel mean and SD (what torchvision models expect); grey ones to
zero mean and unit SD over the set.

`load_stimuli` is the public name (``from priorlab.data import load_stimuli``); `stimuli` is the same function.
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
    n_original: int | None = None  # how many stimuli are unaltered files (the rest are augmented crops)

    def __len__(self) -> int:
        return len(self.x)


def load_stimuli(
    spec: str, n: int, image_size: int | None = None, channels: int = 1, seed: int = 0, augment: bool = False
) -> Stimuli:
    """`n` stimuli of `channels` × `image_size`² (None: the source's own size, 8 for digits, 224 for photos).

    spec: ``digits``, ``samples`` or ``images:<folder>``. seed: which files are drawn (stratified by category) and
    how they are cropped. augment: allow more stimuli than files (random crops and flips of the files)."""
    if n < 1:
        raise UserError(f"n_stimuli must be ≥ 1, got {n}")
    if channels not in (1, 3):
        raise UserError(f"stimuli have 1 or 3 channels, got {channels}")
    rng = np.random.default_rng(seed)
    if spec == "digits":
        x, labels, desc = _digits(n, image_size or 8, rng)
        n_original = n
    elif spec == "samples" or spec.startswith("images:"):
        if spec == "samples":
            folder = Path(__import__("skimage").data.__file__).parent
            files = [folder / f for f in SKIMAGE_PHOTOS if (folder / f).exists()]
            cats, where = [f.stem for f in files], "the photos shipped with scikit-image"
        else:
            found = ImageFiles(spec.removeprefix("images:"), what="stimuli folder")
            files, cats, where = found.files, found.categories, spec.removeprefix("images:")
        if n > len(files) and not augment:
            raise UserError(
                f"n_stimuli={n} is more than the {len(files)} image files in {where}; "
                "set augment=true to add random crops of them"
            )
        x, labels = _photos(files, cats, n, image_size or 224, rng)
        n_original = min(n, len(files))
        desc = f"{n} images from {where} ({len(files)} files, {len(set(cats))} categories"
        desc += f"; {n_original} originals, {n - n_original} random crops)" if n > len(files) else ")"
    else:
        raise UserError(f"invalid stimuli '{spec}' (allowed: {KINDS})")
    x = _to_channels(x, channels)
    return Stimuli(_normalise(x), labels, desc, n_original)


stimuli = load_stimuli


def stratified(cats: list[str], n: int, rng: np.random.Generator) -> list[int]:
    """`n` distinct indices into `cats` (n ≤ len(cats)), spread as evenly as the categories allow."""
    groups = {c: rng.permutation([i for i, k in enumerate(cats) if k == c]).tolist() for c in sorted(set(cats))}
    picks: list[int] = []
    while len(picks) < n:  # round-robin: one file per category per round, skipping exhausted categories
        for members in groups.values():
            if members and len(picks) < n:
                picks.append(members.pop())
    return sorted(picks)


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
    """min(n, len(files)) files drawn stratified by category and centre-cropped, then (n > len(files)) random
    crops/flips drawn round-robin over the categories; sorted by category."""
    if n <= len(files):
        crops = [(i, None) for i in stratified(cats, n, rng)]
    else:
        crops = [(i, None) for i in range(len(files))]
        by_cat = [[i for i, k in enumerate(cats) if k == c] for c in sorted(set(cats))]
        for e in range(n - len(files)):
            members = by_cat[e % len(by_cat)]
            crops.append((members[int(rng.integers(len(members)))], rng))
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


# ---------------------------------------------------------------------------------------------- target RDMs
def category_rdm(labels: list[str] | None) -> torch.Tensor:
    """The model RDM of the categories: 0 for two stimuli of one category, 1 for different ones ([N, N])."""
    if labels is None or len(set(labels)) < 2:
        raise UserError("target: category needs stimuli from at least 2 categories")
    codes = torch.tensor([sorted(set(labels)).index(c) for c in labels])
    return (codes[:, None] != codes[None, :]).double()


def load_rdms(spec: str, n: int) -> torch.Tensor:
    """`rdms:<file.npy>` ([S, N, N] or [N, N], read with allow_pickle=False) or `rdms:<file.hdf5|.h5>` (an
    rsatoolbox RDMs file, read with rsatoolbox's hdf5 loader; never a pickle) as a float64 [S, N, N] stack.
    N must equal the number of stimuli."""
    path = Path(spec.removeprefix("rdms:")).expanduser()
    if not path.is_file():
        raise UserError(f"target: no such file {path}")
    try:
        if path.suffix == ".npy":
            stack = np.load(path, allow_pickle=False)
        elif path.suffix in (".hdf5", ".h5"):
            from rsatoolbox.rdm import load_rdm

            stack = load_rdm(str(path), file_type="hdf5").get_matrices()
        else:
            raise UserError(f"target: {path.name} is neither .npy nor .hdf5/.h5")
    except UserError:
        raise
    except Exception as exc:  # a damaged or foreign file: one line naming it
        raise UserError(f"target: cannot read {path.name} ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    stack = np.asarray(stack, dtype=np.float64)
    stack = stack[None] if stack.ndim == 2 else stack
    if stack.ndim != 3 or stack.shape[1] != stack.shape[2]:
        raise UserError(f"target: {path.name} holds shape {list(stack.shape)}, expected RDMs [S, N, N]")
    if stack.shape[1] != n:
        raise UserError(f"target: {path.name} holds RDMs of {stack.shape[1]} stimuli, but n_stimuli is {n}")
    if not np.isfinite(stack).all():
        raise UserError(f"target: {path.name} has NaN or infinite dissimilarities")
    return torch.from_numpy(stack)


def target_rdms(target: str, stim: Stimuli, metric: str = "correlation") -> tuple[torch.Tensor, torch.Tensor]:
    """([S, N, N] target RDMs, the [N, N] input RDM under `metric`) for `target` = input | category | rdms:<file>."""
    from priorlab.probe.rdm import rdm

    input_rdm = rdm(stim.x.double(), metric)
    if target == "input":
        return input_rdm[None], input_rdm
    if target == "category":
        return category_rdm(stim.labels)[None], input_rdm
    return load_rdms(target, len(stim.x)), input_rdm
