"""Image folders: the resize-then-crop square equals torchvision's Resize + CenterCrop to the bit; listing order,
categories, labels and the train/val or stratified split; refusals name the folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from priorlab.config import UserError
from priorlab.data.images import ImageFiles, image_split, imagenet_normalise, square, to_tensor


def _image(h: int, w: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


@pytest.mark.parametrize("h, w, size", [(40, 40, 16), (37, 90, 16), (90, 37, 33), (64, 80, 64), (20, 31, 64)])
def test_resize_fit_equals_torchvision(h, w, size):
    transforms = pytest.importorskip("torchvision.transforms")
    tf = transforms.Compose([
        transforms.Resize(size), transforms.CenterCrop(size), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    img = _image(h, w)
    ours = imagenet_normalise(to_tensor(square(img, size, fit="resize"))[None])[0]
    assert torch.equal(ours, tf(img))


def test_crop_fit_is_the_centred_square_resized():
    img = _image(30, 50)
    got = to_tensor(square(img, 30, fit="crop"))
    assert torch.equal(got, to_tensor(img.crop((10, 0, 40, 30))))


def _folder(root, layout):
    for rel in layout:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        _image(12, 12).save(root / rel)
    return root


def test_listing_categories_and_labels(tmp_path):
    root = _folder(tmp_path / "f", ["b/2.png", "a/1.jpg", "a/sub/3.png", "top.png"])
    (root / "a" / "notes.txt").write_text("not an image")
    parent = ImageFiles(root)
    assert [p.relative_to(root).as_posix() for p in parent.files] == ["a/1.jpg", "a/sub/3.png", "b/2.png", "top.png"]
    assert parent.categories == ["a", "a/sub", "b", "."]
    top = ImageFiles(root, category="top")
    assert top.categories == ["a", "a", "b"] and top.classes == ["a", "b"]
    assert top.labels.tolist() == [0, 0, 1]
    assert top.load(8).shape == (3, 3, 8, 8)


def test_split_train_val_or_stratified(tmp_path):
    root = _folder(tmp_path / "tv", [f"{part}/{c}/{i}.png" for part in ("train", "val") for c in "xy" for i in range(2)])
    s = image_split(root, 8)
    assert s.x_train.shape == (4, 3, 8, 8) and s.y_test.tolist() == [0, 0, 1, 1]
    flat = _folder(tmp_path / "flat", [f"{c}/{i}.png" for c in "xy" for i in range(4)])
    s = image_split(flat, 8)
    assert len(s.y_train) == 6 and sorted(s.y_test.tolist()) == [0, 1]


def test_refusals_name_the_folder(tmp_path):
    with pytest.raises(UserError, match="stimuli folder '.*nope' does not exist"):
        ImageFiles(tmp_path / "nope", what="stimuli folder")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no images"):
        ImageFiles(tmp_path / "empty")
    (tmp_path / "bad" / "c").mkdir(parents=True)
    (tmp_path / "bad" / "c" / "x.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="cannot read image"):
        ImageFiles(tmp_path / "bad").load(8)
