"""skycore: sky masks and sky replacement for photos.

Predict a sky probability with an ONNX model, refine it at full resolution with the
confidence-weighted guided filter of Liba et al. (arXiv 2006.10172), and replace skies.
All functions take and return numpy arrays; see the README for the command line.
"""

from .errors import ImageError, ModelError, SkyCoreError
from .image import as_float_rgb, read_image, write_mask
from .inference import predict_probability
from .models import ModelSpec, find_model, list_models
from .pipeline import sky_mask
from .refinement import confidence_from_probability, refine

__version__ = "0.1.0"

__all__ = [
    "ImageError",
    "ModelError",
    "ModelSpec",
    "SkyCoreError",
    "as_float_rgb",
    "confidence_from_probability",
    "find_model",
    "list_models",
    "predict_probability",
    "read_image",
    "refine",
    "sky_mask",
    "write_mask",
]
