"""Shared test fixtures: where the read-only data beside the repository lives.

Tests use real photos and the reference models from ``../shared`` (never copied into the
repository). Test modules compute their own paths from ``__file__`` rather than importing
them from here: ``tests/gimp`` has a ``conftest`` too, and only one module can be
``conftest`` in ``sys.modules``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PHOTOS = SHARED / "data" / "photos"
SEED_EVAL = SHARED / "data" / "seed-eval"
U2NETP = SHARED / "models" / "skyseg-u2netp.onnx"


def pytest_configure(config: pytest.Config) -> None:
    if not U2NETP.is_file():
        raise pytest.UsageError(
            f"test data not found: {SHARED} must sit beside the repository (see README)"
        )


@pytest.fixture
def cli(capsys: pytest.CaptureFixture):
    """The ``skycore`` command line run in this process: ``cli(*argv)`` returns the exit
    status, stdout and stderr (arguments are converted with ``str``)."""
    from skycore.cli import main

    def run(*argv) -> tuple[int, str, str]:
        try:
            status = main([str(a) for a in argv])
        except SystemExit as exc:
            status = exc.code
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def u2netp() -> Path:
    """Path of the reference u2netp model (its manifest lies beside it)."""
    return U2NETP


@pytest.fixture
def isolated_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user model folder and no project models: lookups see only what a test adds.

    Returns the user model folder (``$SKYCORE_MODEL_DIR``).
    """
    user = tmp_path / "user-models"
    user.mkdir()
    monkeypatch.setenv("SKYCORE_MODEL_DIR", str(user))
    monkeypatch.setattr("skycore.registry.PROJECT_MODEL_DIR", tmp_path / "no-project-models")
    return user
