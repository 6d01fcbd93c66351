"""The model registry: manifests, lookup and checksums, with the standard library only.

A model is an ONNX file plus an entry in a manifest, a JSON file of the form
``{"schema": 1, "models": [{...}, ...]}``. Manifests are read from

1. the user model folder: ``$SKYCORE_MODEL_DIR`` if set, else ``$XDG_DATA_HOME/skycore/models``
   (``~/.local/share/skycore/models``); ``install.py`` puts models here;
2. the project's own ``models/`` folder.

A model is named by its ``id`` (``"u2netp"``) or its file name or stem, or given as a path to
an ``.onnx`` file with a manifest beside it. The file's SHA-256 is checked against the manifest
before first use (:mod:`skycore.sessions`), and a mismatch is refused.

This module imports nothing outside the standard library, so ``install.py`` and the GIMP
plug-in read manifests with it before numpy or onnxruntime exist.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelError

#: The project's own ``models/`` folder (next to the package in a source checkout).
PROJECT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models"

_REQUIRED = ("id", "file", "sha256", "input_name", "output_name", "input_size")
_NORMALIZATIONS = ("mean_std", "minmax_0_255")
_OUTPUTS = ("probability", "logits")
_GEOMETRIES = ("keep_aspect", "square")


@dataclass(frozen=True)
class ModelSpec:
    """One manifest entry, resolved against the folder its manifest lies in."""

    id: str
    path: Path
    sha256: str
    input_name: str | None
    output_name: str | None
    input_size: int
    size_multiple: int | None = 32
    dynamic_size: bool = True
    color_order: str = "RGB"
    normalization: str = "mean_std"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    output: str = "probability"
    mirror_average: bool = False
    input_geometry: str = "keep_aspect"
    license: str = "unknown"
    url: str | None = None
    bytes: int | None = None
    default: bool = False
    description: str = ""
    manifest: Path | None = field(default=None, compare=False)

    @property
    def available(self) -> bool:
        """Whether the ONNX file is present on disk."""
        return self.path.is_file()


def user_model_dir() -> Path:
    """The folder where installed and downloaded models live."""
    override = os.environ.get("SKYCORE_MODEL_DIR")
    if override:
        return Path(override).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "skycore" / "models"


def model_dirs() -> list[Path]:
    """Folders searched for manifests, first match wins."""
    return [user_model_dir(), PROJECT_MODEL_DIR]


def _optional_name(value: object) -> str | None:
    # null in a manifest: the publisher does not name the tensor; the graph's first is used.
    return None if value is None else str(value)


def _parse_entry(entry: dict, folder: Path, manifest: Path) -> ModelSpec:
    if not isinstance(entry, dict):
        raise ModelError(f"{manifest}: each entry of 'models' must be an object, got {entry!r}")
    where = f"{manifest}: model {entry.get('id', '?')!r}"
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        raise ModelError(f"{where}: missing field(s) {', '.join(missing)}")
    if entry.get("normalization", "mean_std") not in _NORMALIZATIONS:
        raise ModelError(f"{where}: normalization must be one of {_NORMALIZATIONS}")
    if entry.get("output", "probability") not in _OUTPUTS:
        raise ModelError(f"{where}: output must be one of {_OUTPUTS}")
    if entry.get("color_order", "RGB") not in ("RGB", "BGR"):
        raise ModelError(f"{where}: color_order must be RGB or BGR")
    if not isinstance(entry.get("mirror_average", False), bool):
        raise ModelError(f"{where}: mirror_average must be true or false")
    if entry.get("input_geometry", "keep_aspect") not in _GEOMETRIES:
        raise ModelError(f"{where}: input_geometry must be one of {_GEOMETRIES}")
    sha = str(entry["sha256"]).lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ModelError(f"{where}: sha256 must be 64 hex digits")
    try:
        size = int(entry["input_size"])
        mean = tuple(float(v) for v in entry.get("mean", ModelSpec.mean))
        std = tuple(float(v) for v in entry.get("std", ModelSpec.std))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{where}: bad number ({exc})") from None
    if size < 32 or len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ModelError(f"{where}: input_size must be >= 32, mean/std three values, std > 0")
    file = Path(entry["file"])
    if file.is_absolute() or ".." in file.parts:
        raise ModelError(f"{where}: file must be a plain name inside the manifest's folder")
    multiple = entry.get("size_multiple", 32)
    return ModelSpec(
        id=str(entry["id"]),
        path=folder / file,
        sha256=sha,
        input_name=_optional_name(entry["input_name"]),
        output_name=_optional_name(entry["output_name"]),
        input_size=size,
        size_multiple=int(multiple) if multiple else None,
        dynamic_size=bool(entry.get("dynamic_size", True)),
        color_order=entry.get("color_order", "RGB"),
        normalization=entry.get("normalization", "mean_std"),
        mean=mean,
        std=std,
        output=entry.get("output", "probability"),
        mirror_average=entry.get("mirror_average", False),
        input_geometry=entry.get("input_geometry", "keep_aspect"),
        license=str(entry.get("license", "unknown")),
        url=entry.get("url"),
        bytes=entry.get("bytes"),
        default=bool(entry.get("default", False)),
        description=str(entry.get("description", entry.get("architecture", ""))),
        manifest=manifest,
    )


def _load_manifest(path: Path) -> tuple[list[dict], list[ModelSpec]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: cannot read model manifest ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise ModelError(f"{path}: a model manifest needs a top-level 'models' list")
    specs = [_parse_entry(e, path.parent, path) for e in data["models"]]
    ids = [s.id for s in specs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ModelError(f"{path}: duplicate model id(s) {', '.join(duplicates)}")
    return data["models"], specs


def read_manifest(path: str | os.PathLike) -> list[ModelSpec]:
    """Parse one manifest file.

    Raises
    ------
    ModelError
        If the file is not valid JSON or an entry lacks a required field or has a bad value.
    """
    return _load_manifest(Path(path))[1]


def manifest_entries(path: str | os.PathLike) -> list[dict]:
    """The entries of one manifest as written (plain dicts, every field kept), checked as
    :func:`read_manifest` checks them; for tools that copy manifests (``install.py``)."""
    return _load_manifest(Path(path))[0]


def manifests_in(folder: Path) -> list[Path]:
    """The manifest files (``*.json``) in a folder, sorted; none if the folder is missing."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if p.is_file())


def list_models() -> list[ModelSpec]:
    """All models named by manifests in :func:`model_dirs`, earlier folders first.

    An id found in several folders is listed once, from the first folder.
    """
    seen: dict[str, ModelSpec] = {}
    for folder in model_dirs():
        for manifest in manifests_in(folder):
            for spec in read_manifest(manifest):
                seen.setdefault(spec.id, spec)
    return list(seen.values())


def default_model() -> ModelSpec:
    """The model marked ``"default": true`` that is present on disk."""
    for spec in list_models():
        if spec.default and spec.available:
            return spec
    raise ModelError(
        "no default sky model is installed; pass a model name or an .onnx path "
        f"(searched {', '.join(str(d) for d in model_dirs())})"
    )


def find_model(model: str | os.PathLike | ModelSpec | None = None) -> ModelSpec:
    """Resolve a model name, file path or spec to a :class:`ModelSpec`.

    Parameters
    ----------
    model : str, path-like, ModelSpec or None
        ``None`` for the default model; a manifest id or file name/stem; or a path to an
        ``.onnx`` file whose folder holds a manifest that lists it.

    Raises
    ------
    ModelError
        If nothing matches or the matching file is missing.
    """
    if isinstance(model, ModelSpec):
        return model
    if model is None:
        return default_model()
    text = os.fspath(model)
    candidate = Path(text).expanduser()
    separators = [os.sep] + ([os.altsep] if os.altsep else [])
    if candidate.is_file() or any(sep in text for sep in separators):
        return _spec_for_file(candidate)
    for spec in list_models():
        if text in (spec.id, spec.path.name, spec.path.stem):
            if not spec.available:
                hint = f"; download it from {spec.url}" if spec.url else ""
                raise ModelError(f"model {spec.id!r} is listed but {spec.path} is missing{hint}")
            return spec
    if candidate.suffix == ".onnx":
        raise ModelError(f"model file not found: {candidate}, and no model has that file name")
    names = ", ".join(s.id for s in list_models()) or "none"
    raise ModelError(f"unknown model {text!r}; known models: {names}")


def _spec_for_file(path: Path) -> ModelSpec:
    """The manifest entry describing the ONNX file at ``path``, from a manifest beside it."""
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    # The manifest lies beside the path as given, not beside a symlink's target.
    folder = path.absolute().parent
    resolved = path.resolve()
    for manifest in manifests_in(folder):
        for spec in read_manifest(manifest):
            if spec.path.resolve() == resolved:
                return spec
    raise ModelError(
        f"{path}: no manifest in {folder} describes this file; add a JSON manifest beside it "
        "listing the file with its sha256, tensor names and input size (see the README)"
    )


def checksum_status(spec: ModelSpec) -> str:
    """How the model file on disk compares with its manifest: ``"ok"``, ``"mismatch"`` or
    ``"missing"``. Always hashes the file (no cache), for reports such as ``skycore models``."""
    if not spec.available:
        return "missing"
    return "ok" if file_sha256(spec.path) == spec.sha256 else "mismatch"


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
