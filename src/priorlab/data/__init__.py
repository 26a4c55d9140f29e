"""Tasks and stimuli. The public loader of image stimuli is :func:`load_stimuli`:

    from priorlab.data import load_stimuli
    s = load_stimuli("images:/data/photos", n=200, image_size=224, channels=3, seed=0)   # stratified by category
    s.x, s.labels, s.n_original

Submodules are imported on first use (``priorlab.data.load_stimuli`` pulls in torch only when asked for).
"""

from __future__ import annotations

__all__ = ["Stimuli", "load_stimuli"]


def __getattr__(name: str):
    if name in __all__:
        from priorlab.data import stimuli

        return getattr(stimuli, name)
    raise AttributeError(f"module 'priorlab.data' has no attribute {name!r}")
