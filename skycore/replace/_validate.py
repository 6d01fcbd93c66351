"""Option checks shared by the replacement modules."""

from __future__ import annotations

import math


def check_range(name: str, value: float, low: float, high: float) -> None:
    """Raise ValueError naming the option unless ``low <= value <= high``."""
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {value}")
