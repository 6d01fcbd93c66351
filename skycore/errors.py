"""Exceptions raised by skycore.

Every error a user can cause derives from :class:`SkyCoreError`, so front ends (CLI, GIMP
plug-in) can show its message as is instead of a traceback.
"""


class SkyCoreError(Exception):
    """Base class of all errors skycore raises on bad input or bad models."""


class ImageError(SkyCoreError, ValueError):
    """An image could not be read or is not usable (empty, corrupt, too large, bad shape)."""


class ModelError(SkyCoreError):
    """A model is missing, unknown, tampered with, or its manifest is invalid."""
