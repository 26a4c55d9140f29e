"""RDMs to and from rsatoolbox, for its inference (model comparison, noise ceilings, bootstrap over stimuli).

    import rsatoolbox
    from priorlab.probe.interop import from_rsatoolbox, to_rsatoolbox

    rsa = to_rsatoolbox({"conv1": rdm_a, "fc": rdm_b}, labels=labels)    # rsatoolbox.rdm.RDMs, names as descriptors
    rsatoolbox.rdm.compare(rsa, target, method="spearman")
    back = from_rsatoolbox(rsa, by="name")                               # {"conv1": Tensor [N, N], "fc": …}
    brain = from_rsatoolbox("subject_rdms.hdf5")                         # Tensor [S, N, N] from rsatoolbox's file

Measures keep their meaning across the two: priorlab's ``sqeuclidean`` (squared Euclidean ÷ features) is what
rsatoolbox's ``calc_rdm(method="euclidean")`` computes and labels ``squared euclidean``; ``correlation`` is
``correlation`` in both; priorlab's ``euclidean`` (not squared) has no rsatoolbox
name and is written as ``euclidean (not squared)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = ["from_rsatoolbox", "to_rsatoolbox"]

MEASURES = {"sqeuclidean": "squared euclidean", "correlation": "correlation", "cosine": "cosine",
            "euclidean": "euclidean (not squared)"}


def _rsatoolbox():
    try:
        import rsatoolbox
    except ImportError:
        raise ImportError("rsatoolbox is not installed: pip install rsatoolbox") from None
    return rsatoolbox


def _matrix(v) -> np.ndarray:
    a = v.detach().cpu().double().numpy() if isinstance(v, torch.Tensor) else np.asarray(v, dtype=np.float64)
    return a


def _flatten(rdms, prefix: str = "") -> tuple[list[str], list[np.ndarray], list | None]:
    """Names and [N, N] matrices from a dict (nested dicts give 'outer/inner' names; a 'labels' list is taken as
    the labels; other non-array entries are skipped), or from a tensor/array [N, N] / [S, N, N] or a list."""
    names, mats, labels = [], [], None
    if isinstance(rdms, Mapping):
        for k, v in rdms.items():
            if isinstance(v, Mapping):
                n, m, _ = _flatten(v, f"{prefix}{k}/")
                names += n
                mats += m
            elif k == "labels" and isinstance(v, Sequence) and not isinstance(v, str):
                labels = list(v)
            elif isinstance(v, torch.Tensor | np.ndarray):
                names.append(f"{prefix}{k}")
                mats.append(_matrix(v))
        return names, mats, labels
    if isinstance(rdms, list | tuple):
        mats = [_matrix(v) for v in rdms]
    else:
        a = _matrix(rdms)
        mats = [a] if a.ndim == 2 else list(a)
    return [str(i) for i in range(len(mats))], mats, None


def to_rsatoolbox(rdms, *, measure: str = "correlation", labels=None, names: list[str] | None = None):
    """An ``rsatoolbox.rdm.RDMs`` from priorlab RDMs: a Tensor/array [N, N] or [S, N, N], a list of [N, N], or a
    dict {name: [N, N]} (nested dicts such as ``Result.rdms`` give ``reference/conv1`` names). ``measure``: the
    priorlab metric they were made with (stored under rsatoolbox's name). ``labels``: one per stimulus
    (pattern descriptor ``label``); names become the rdm descriptor ``name``."""
    rsatoolbox = _rsatoolbox()
    found_names, mats, found_labels = _flatten(rdms)
    if not mats:
        raise ValueError("rdms: no [N, N] matrices given")
    n = mats[0].shape[0]
    for name, m in zip(found_names, mats):
        if m.shape != (n, n):
            raise ValueError(f"rdms: '{name}' has shape {list(m.shape)}; every RDM must be [{n}, {n}]")
        if not np.allclose(m, m.T, atol=1e-8):
            raise ValueError(f"rdms: '{name}' is not symmetric")
    if n < 3:
        raise ValueError(f"rdms: {n} stimuli; an RDM needs at least 3")
    names = list(names) if names is not None else found_names
    if len(names) != len(mats):
        raise ValueError(f"names: {len(names)} names for {len(mats)} RDMs")
    labels = found_labels if labels is None else labels
    iu = np.triu_indices(n, 1)  # rsatoolbox's vector order (scipy's squareform)
    pattern = {"index": list(range(n))}
    if labels is not None:
        labels = [str(v) for v in (labels.tolist() if hasattr(labels, "tolist") else labels)]
        if len(labels) != n:
            raise ValueError(f"labels: {len(labels)} labels for {n} stimuli")
        pattern["label"] = labels
    return rsatoolbox.rdm.RDMs(
        np.stack([m[iu] for m in mats]),
        dissimilarity_measure=MEASURES.get(measure, measure),
        rdm_descriptors={"name": names, "index": list(range(len(mats)))},
        pattern_descriptors=pattern,
    )


def from_rsatoolbox(obj, *, by: str | None = None):
    """priorlab RDMs (float64 Tensors) from an ``rsatoolbox.rdm.RDMs`` or the path of an hdf5 file rsatoolbox saved
    (``rdms.save(path)``, read by rsatoolbox's own loader; its pickle format is not read). Returns [N, N] for one RDM,
    [S, N, N] for several; with ``by="name"`` (any rdm descriptor) a dict {descriptor value: [N, N]}."""
    rsatoolbox = _rsatoolbox()
    if isinstance(obj, str | Path):
        path = Path(obj).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no such file '{obj}'")
        if path.suffix.lower() not in (".hdf5", ".h5"):
            raise ValueError(f"'{obj}': read rsatoolbox's .hdf5 files here (other formats may need pickle)")
        obj = rsatoolbox.rdm.load_rdm(str(path), file_type="hdf5")
    if not isinstance(obj, rsatoolbox.rdm.RDMs):
        raise TypeError(f"expected rsatoolbox.rdm.RDMs, got {type(obj).__name__}")
    mats = torch.from_numpy(np.asarray(obj.get_matrices(), dtype=np.float64))
    if by is None:
        return mats[0] if len(mats) == 1 else mats
    if by not in obj.rdm_descriptors:
        raise ValueError(f"by: the RDMs have no descriptor '{by}' (they have {', '.join(obj.rdm_descriptors)})")
    keys = [str(k) for k in obj.rdm_descriptors[by]]
    if len(set(keys)) != len(keys):
        raise ValueError(f"by: descriptor '{by}' repeats values; pick one that names each RDM once")
    return dict(zip(keys, mats))
