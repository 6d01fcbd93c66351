"""skycore: sky masks, sky replacement and sky enhancement for photos.

Predict a sky probability with an ONNX model, refine it at full resolution with the
confidence-weighted guided filter of Liba et al. (arXiv 2006.10172), replace skies, and
enhance a low-light photo's own sky as that paper does.
All functions take and return numpy arrays; see the README for the command line.

The public names are imported on first use (PEP 562, as scikit-image does), so the modules
that need only the standard library (:mod:`skycore.registry`, :mod:`skycore.options`,
:mod:`skycore.protocol`) import without numpy, OpenCV or onnxruntime: ``install.py`` and the
GIMP plug-in use them that way.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: Public name -> the submodule that defines it.
_LAZY = {
    "ImageError": "errors",
    "ModelError": "errors",
    "SkyCoreError": "errors",
    "as_float_rgb": "image",
    "read_image": "image",
    "write_mask": "image",
    "predict_probability": "inference",
    "ModelSpec": "registry",
    "find_model": "registry",
    "list_models": "registry",
    "sky_mask": "pipeline",
    "select_sky": "pipeline",
    "replace_sky": "pipeline",
    "enhance_sky": "enhance",
    "confidence_from_probability": "refinement",
    "refine": "refinement",
}

#: Submodules, also reachable as attributes (``skycore.registry``) once asked for.
_SUBMODULES = (
    "cli",
    "density",
    "download",
    "enhance",
    "errors",
    "image",
    "inference",
    "maskops",
    "metrics",
    "options",
    "pipeline",
    "protocol",
    "refinement",
    "registry",
    "replace",
    "sessions",
    "worker",
)

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, *_SUBMODULES])
