"""Run commands in a real GIMP 3: the machine's ``gimp-console-3.0``, else ``gimp3-env``.

``gimp3-env`` (``../shared/tools/gimp3/gimp3-env`` beside the repository) gives a Debian 12
machine a GIMP 3 in a cached root filesystem. Two variants are used here:

- ``nonumpy``: GIMP's Python has no numpy, OpenCV or onnxruntime, as on Windows, macOS and
  Flatpak; only the venv that ``install.py`` makes has them. Its rootfs lives in
  ``/var/cache/gimp3-root-nonumpy`` (about 500 MB; ``ensure`` took 177 s from nothing here).
- ``full``: gimp3-env's default rootfs (``/var/cache/gimp3-root``), whose GIMP Python has them.
- ``gui``: gimp-gui-shot's rootfs (``/var/cache/gimp3-gui-root``), used by the undo test, which
  needs the GUI (``ensure`` took 68-150 s from nothing).

``SKYCORE_GIMP_VARIANTS`` (comma-separated, default ``nonumpy``) picks the variants the tests
run in. With ``gimp-console-3.0`` on ``PATH`` the machine's own GIMP is used instead, once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
GIMP3_ENV = SHARED / "tools" / "gimp3" / "gimp3-env"
PHOTOS = SHARED / "data" / "photos"
MODEL = SHARED / "models" / "skyseg-u2netp.onnx"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "skycore-gimp-tests"

VARIANTS = {
    "nonumpy": {
        "GIMP3_ROOT": "/var/cache/gimp3-root-nonumpy",
        "GIMP3_PKGS": "gimp gir1.2-gimp-3.0 python3 python3-gi python3-venv python3-pip "
        "ca-certificates",
        "GIMP3_PIP_PKGS": "",
    },
    "full": {},
    # gimp-gui-shot's rootfs (GIMP GUI, Xvfb, openbox, xdotool): the same knobs as that tool,
    # so both share one build.
    "gui": {
        "GIMP3_ROOT": "/var/cache/gimp3-gui-root",
        "GIMP3_EXTRA_PKGS": "xvfb xdotool openbox x11-utils python3-pil",
    },
}


def selected_variants() -> list[str]:
    """The variants to test in: ``["native"]`` when the machine has GIMP 3 itself."""
    if shutil.which("gimp-console-3.0"):
        return ["native"]
    names = os.environ.get("SKYCORE_GIMP_VARIANTS", "nonumpy").split(",")
    unknown = [n for n in names if n.strip() not in VARIANTS]
    if unknown:
        raise ValueError(f"SKYCORE_GIMP_VARIANTS: unknown {unknown}; known: {list(VARIANTS)}")
    return [n.strip() for n in names]


def unavailable_reason() -> str | None:
    """Why no GIMP 3 can run here, or None."""
    if shutil.which("gimp-console-3.0"):
        return None
    if not GIMP3_ENV.is_file():
        return f"no gimp-console-3.0 on PATH and no {GIMP3_ENV}"
    if os.geteuid() != 0:
        return "gimp3-env needs root"
    return None


class Gimp:
    """One GIMP 3 environment; the install's data (venv, models) is cached per variant.

    The venv is kept between test runs in ``CACHE/<variant>/data`` so a re-run of
    ``install.py`` only reinstalls skycore (the first run downloads its dependencies).
    """

    def __init__(self, variant: str, work: Path):
        self.variant = variant
        self.work = work
        self.cache = CACHE / variant
        self.data_dir = self.cache / "data"
        self.gimp_dir = work / "gimp"
        self.home = work / "home"
        for folder in (self.data_dir, self.home, CACHE / "pip"):
            folder.mkdir(parents=True, exist_ok=True)
        self.knobs = {**os.environ, **VARIANTS.get(variant, {})}

    def ensure(self) -> None:
        if self.variant == "native":
            return
        done = subprocess.run(
            [str(GIMP3_ENV), "ensure"], env=self.knobs, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"gimp3-env ensure ({self.variant}) failed:\n{done.stderr}")

    def run(
        self,
        argv: list,
        *,
        env: dict | None = None,
        stdin: bytes | None = None,
        cwd: Path | None = None,
        binds: tuple = (),
        timeout: float = 600,
    ):
        """Run ``argv`` inside the GIMP environment with a throwaway HOME and ``env`` added."""
        env = {
            "GIMP3_DIRECTORY": str(self.gimp_dir),
            "PIP_CACHE_DIR": str(CACHE / "pip"),
            **(env or {}),
        }
        if self.variant == "native":
            full_env = {**os.environ, "HOME": str(self.home), **env}
            return subprocess.run(
                [str(a) for a in argv],
                env=full_env,
                input=stdin,
                cwd=cwd,
                capture_output=True,
                timeout=timeout,
            )
        command = [str(GIMP3_ENV), "run", "--home", str(self.home)]
        for folder in (REPO, SHARED, self.work, CACHE, *binds):
            command += ["--bind", str(folder)]
        for key, value in env.items():
            command += ["--env", f"{key}={value}"]
        command += ["--", *[str(a) for a in argv]]
        return subprocess.run(
            command, env=self.knobs, input=stdin, cwd=cwd, capture_output=True, timeout=timeout
        )

    def install(self, *extra: str):
        """Run install.py with GIMP's python3 into the throwaway GIMP folder."""
        return self.run(
            [
                "python3",
                REPO / "install.py",
                "--gimp-dir",
                self.gimp_dir,
                "--data-dir",
                self.data_dir,
                *extra,
            ]
        )

    def batch(
        self,
        code: str,
        *,
        env: dict | None = None,
        cwd: Path | None = None,
        binds: tuple = (),
        timeout: float = 600,
    ):
        """Run Python code with python-fu-eval in gimp-console-3.0 (exit 64 if it raises)."""
        argv = [
            "gimp-console-3.0",
            "-i",
            "-d",
            "-f",
            "--batch-interpreter=python-fu-eval",
            "-b",
            "-",
            "--quit",
        ]
        return self.run(argv, env=env, stdin=code.encode(), cwd=cwd, binds=binds, timeout=timeout)


if __name__ == "__main__":
    # `python -m tests.gimp.harness`: build (or check) every GIMP environment the tests use, so
    # CI shows this one-off cost as its own step.
    import tempfile

    for name in dict.fromkeys([*selected_variants(), "gui"]):
        if name != "native":
            print(f"gimp3-env ensure ({name})", flush=True)
            Gimp(name, Path(tempfile.mkdtemp(prefix="skycore-gimp-"))).ensure()
