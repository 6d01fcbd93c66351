#!/usr/bin/env python3
"""Install the skycore GIMP 3 plug-in (Select > Sky...) for the current user.

What it does, in this order (``--dry-run`` prints the same list without doing it):

1. makes a Python environment for the core: a venv in the data folder with this checkout
   ``pip install``-ed into it (or, with ``--python``, uses an existing Python that already
   imports skycore);
2. installs the sky model(s) into ``DATA/models`` with a manifest (the default model of
   ``models/*.json`` unless ``--model`` names others: a model id, or an ``.onnx`` file with a
   manifest beside it);
3. copies the bundled skies (``skies/``) into ``DATA/skies``, the sky gallery of Replace Sky:
   the user's own sky photos go in the same folder and appear in the dialog too;
4. copies the plug-in folder into GIMP's user plug-in folder, with ``sky-tools.json`` (the
   environment's Python, the model folder and the sky folder) and skycore's standard-library
   modules beside the plug-in.

Every step is staged and renamed into place, and a failure removes what this run created, so
GIMP never sees a half-installed plug-in. Re-running updates the install. ``--uninstall``
removes exactly the paths listed in ``DATA/install-record.json``.

Only the standard library is used: this runs before numpy exists anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))  # skycore's standard-library modules, before any venv exists

from skycore import registry  # noqa: E402
from skycore.errors import ModelError  # noqa: E402
from skycore.registry import file_sha256  # noqa: E402

PLUGIN_NAME = "sky-tools"
PLUGIN_SOURCE = REPO / "gimp_plugin" / PLUGIN_NAME
SKY_SOURCE = REPO / "skies"
#: Image files the sky gallery offers.
SKY_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")
CONFIG_NAME = "sky-tools.json"
#: The modules of skycore that need only the standard library: copied into the plug-in's
#: folder, so GIMP's own Python reads the option tables, the manifests and the worker
#: protocol from the same code as the core.
VENDORED_MODULES = ("__init__.py", "errors.py", "options.py", "protocol.py", "registry.py")
RECORD_NAME = "install-record.json"
FLATPAK_APP = "org.gimp.GIMP"
GIMP_VERSION_DIR = "3.0"


class InstallError(Exception):
    """A problem the user can fix; printed without a traceback."""


def gimp_dir_candidates(platform: str, home: Path, env: dict) -> list[Path]:
    """GIMP 3 user folders for ``platform``, most common first (they need not exist)."""
    if platform.startswith("win"):
        appdata = env.get("APPDATA") or str(home / "AppData" / "Roaming")
        return [Path(appdata) / "GIMP" / GIMP_VERSION_DIR]
    if platform == "darwin":
        return [home / "Library" / "Application Support" / "GIMP" / GIMP_VERSION_DIR]
    config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return [
        config_home / "GIMP" / GIMP_VERSION_DIR,
        home / ".var" / "app" / FLATPAK_APP / "config" / "GIMP" / GIMP_VERSION_DIR,
        home / "snap" / "gimp" / "current" / ".config" / "GIMP" / GIMP_VERSION_DIR,
    ]


def find_gimp_dir(platform: str, home: Path, env: dict) -> Path:
    """GIMP 3's user folder: ``$GIMP3_DIRECTORY``, else the one existing candidate.

    Raises
    ------
    InstallError
        If several installations exist (the user must pick one with ``--gimp-dir``) or none
        does (GIMP 3 has never been started).
    """
    if env.get("GIMP3_DIRECTORY"):
        return Path(env["GIMP3_DIRECTORY"])
    candidates = gimp_dir_candidates(platform, home, env)
    existing = [c for c in candidates if c.is_dir()]
    if len(existing) == 1:
        return existing[0]
    if existing:
        raise InstallError(
            "found several GIMP 3 user folders; choose one with --gimp-dir:\n  "
            + "\n  ".join(str(p) for p in existing)
        )
    raise InstallError(
        "found no GIMP 3 user folder (start GIMP 3 once, or pass --gimp-dir); looked in:\n  "
        + "\n  ".join(str(p) for p in candidates)
    )


def is_flatpak_dir(gimp_dir: Path) -> bool:
    return f"/.var/app/{FLATPAK_APP}/" in gimp_dir.as_posix() + "/"


def default_data_dir(platform: str, home: Path, env: dict, gimp_dir: Path) -> Path:
    """Where the venv, the models and the install record go."""
    if is_flatpak_dir(gimp_dir):
        # The sandboxed GIMP can only run a Python environment that lives in its own data.
        return home / ".var" / "app" / FLATPAK_APP / "data" / "skycore"
    if platform.startswith("win"):
        return Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local") / "skycore"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "skycore"
    return Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / "skycore"


def venv_python(venv: Path, platform: str = sys.platform) -> Path:
    if platform.startswith("win"):
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def read_manifests(folder: Path) -> list[dict]:
    """Entries of every manifest in ``folder`` (skycore's checks), each with ``_folder`` added."""
    entries = []
    for manifest in registry.manifests_in(folder):
        try:
            models = registry.manifest_entries(manifest)
        except ModelError as exc:
            raise InstallError(str(exc)) from None
        entries += [{**entry, "_folder": str(folder)} for entry in models]
    return entries


def resolve_model(name: str | None) -> dict:
    """The manifest entry for a model id (in the repo's ``models/``) or an ``.onnx`` path.

    ``None`` means the entry marked ``"default": true``.
    """
    project = read_manifests(REPO / "models") if (REPO / "models").is_dir() else []
    if name is None:
        defaults = [e for e in project if e.get("default")]
        if not defaults:
            raise InstallError(
                f'{REPO / "models"} has no manifest entry marked "default": true; '
                "pass --model ID_OR_PATH.onnx"
            )
        return defaults[0]
    path = Path(name).expanduser()
    if path.suffix == ".onnx" or os.sep in name or "/" in name:
        if not path.is_file():
            raise InstallError(f"model file not found: {path}")
        for entry in read_manifests(path.resolve().parent):
            if Path(entry["_folder"], entry.get("file", "")).resolve() == path.resolve():
                return entry
        raise InstallError(f"{path}: no manifest beside it describes this file")
    for entry in project:
        if name in (entry.get("id"), entry.get("file"), Path(entry.get("file", "")).stem):
            return entry
    known = ", ".join(str(e.get("id")) for e in project) or "none"
    raise InstallError(f"unknown model {name!r}; models in {REPO / 'models'}: {known}")


class Installer:
    """Plans the steps, runs them, and rolls back what it created if one fails."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        home = Path.home()
        env = dict(os.environ)
        self.gimp_dir = (
            Path(args.gimp_dir) if args.gimp_dir else find_gimp_dir(sys.platform, home, env)
        )
        self.plugin_dir = self.gimp_dir / "plug-ins" / PLUGIN_NAME
        self.data_dir = (
            Path(args.data_dir)
            if args.data_dir
            else default_data_dir(sys.platform, home, env, self.gimp_dir)
        )
        self.model_dir = self.data_dir / "models"
        self.sky_dir = self.data_dir / "skies"
        self.record_path = self.data_dir / RECORD_NAME
        self.venv = self.data_dir / "venv"
        self.created: list[Path] = []
        self.old_paths = {Path(p) for p in self.old_record()["paths"]}
        # A Flatpak GIMP runs plug-ins in its sandbox: the core's venv must be made by (and
        # run with) the sandbox's own Python.
        self.sandbox = (
            ["flatpak", "run", f"--filesystem={REPO}:ro", FLATPAK_APP]
            if is_flatpak_dir(self.gimp_dir) and not args.python
            else None
        )
        self.base_python = "python3" if self.sandbox else args.base_python

    # -- helpers ---------------------------------------------------------------------------
    def say(self, text: str) -> None:
        print(("would " if self.args.dry_run else "") + text, flush=True)

    def run(self, command: list, python: str | Path | None = None) -> None:
        """Run ``command``; with ``python``, run it as ``python COMMAND`` (in the sandbox)."""
        if python is not None:
            if self.sandbox:
                command = [*self.sandbox[:-1], f"--command={python}", self.sandbox[-1], *command]
            else:
                command = [python, *command]
        self.say("run: " + " ".join(str(c) for c in command))
        if self.args.dry_run:
            return
        done = subprocess.run([str(c) for c in command])
        if done.returncode != 0:
            raise InstallError(f"command failed (exit status {done.returncode}): {command[0]}")

    def old_record(self) -> dict:
        try:
            return json.loads(self.record_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"paths": []}

    def mkdir(self, folder: Path) -> None:
        missing = []
        for parent in [folder, *folder.parents]:
            if parent.exists():
                break
            missing.append(parent)
        if not self.args.dry_run:
            folder.mkdir(parents=True, exist_ok=True)
        self.created += reversed(missing)

    # -- steps -------------------------------------------------------------------------------
    def python_for_core(self) -> Path:
        """Create or update the venv (or check ``--python``); returns the worker's Python."""
        if self.args.python:
            python = Path(self.args.python)
            self.say(f"use the existing Python {python} (it must import skycore)")
            if not python.is_file():
                raise InstallError(f"--python {python}: no such file")
            if not self.args.dry_run:
                check = subprocess.run(
                    [str(python), "-I", "-c", "import skycore.worker"], capture_output=True
                )
                if check.returncode != 0:
                    raise InstallError(
                        f"{python} cannot import skycore.worker: "
                        f"{check.stderr.decode(errors='replace').strip().splitlines()[-1:]}"
                    )
            return python
        python = venv_python(self.venv)
        if not python.exists():
            self.mkdir(self.data_dir)
            command = ["-m", "venv"]
            if self.args.system_site_packages:
                command.append("--system-site-packages")
            if self.args.offline:
                # No pip (nor, before Python 3.12, its bundled old setuptools) in the venv:
                # the base Python's pip and setuptools do the offline build.
                command.append("--without-pip")
            self.say(f"create the venv {self.venv}")
            self.created.append(self.venv)
            self.run([*command, self.venv], python=self.base_python)
        if self.args.offline:
            pip = ["-m", "pip", "--python", python, "install", "--disable-pip-version-check"]
            self.run([*pip, "--no-index", "--no-build-isolation", REPO], python=self.base_python)
        else:
            pip = ["-m", "pip", "install", "--disable-pip-version-check"]
            self.run([*pip, REPO], python=python)
        return python

    def install_models(self, python: Path, entries: list[dict]) -> list[Path]:
        """Copy (or download) each model into the model folder with its own manifest."""
        written = []
        self.mkdir(self.model_dir)
        for index, entry in enumerate(entries):
            model_id = str(entry["id"])
            source = Path(entry["_folder"], entry["file"])
            # Named by id: two models may ship files of the same name (the reference u2netp
            # and the project's own import of it), and ids are unique in the folder.
            target = self.model_dir / f"{model_id}{Path(entry['file']).suffix}"
            # A name of our own: never overwrite a manifest the user put there.
            manifest = self.model_dir / f"installed-{model_id}.json"
            clean = {k: v for k, v in entry.items() if not k.startswith("_")}
            clean.update(file=target.name, default=index == 0)
            ours = target in self.old_paths
            if target.is_file() and file_sha256(target) == entry["sha256"]:
                self.say(f"keep the model {target} (already there)")
            elif source.is_file():
                self.say(f"copy the model {source} to {target}")
                if not self.args.dry_run:
                    self.copy_checked(source, target, entry["sha256"])
            elif entry.get("url"):
                self.say(f"download the model {model_id} from {entry['url']} to {target}")
                if not self.args.dry_run:
                    self.download(python, entry, target)
            else:
                raise InstallError(
                    f"model {model_id!r}: {source} is missing and the manifest gives no url"
                )
            self.say(f"write the manifest {manifest}")
            if not self.args.dry_run:
                staged = manifest.with_name(manifest.name + ".part")
                staged.write_text(json.dumps({"schema": 1, "models": [clean]}, indent=2) + "\n")
                self.created.append(manifest)
                os.replace(staged, manifest)
            ours = ours or target in self.created
            written += [target, manifest] if ours else [manifest]
        self.keep_one_default({self.model_dir / f"installed-{e['id']}.json" for e in entries})
        return written

    def keep_one_default(self, current: set[Path]) -> None:
        """Models an earlier run installed stay available, but no longer as the default."""
        for other in sorted(self.model_dir.glob("installed-*.json")):
            if other in current:
                continue
            try:
                data = json.loads(other.read_text(encoding="utf-8"))
                models = data["models"]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not a manifest this installer wrote; the worker reports it if used
            if not any(isinstance(m, dict) and m.get("default") for m in models):
                continue
            self.say(f"mark the models of {other} as not the default")
            if self.args.dry_run:
                continue
            for model in models:
                if isinstance(model, dict):
                    model["default"] = False
            staged = other.with_name(other.name + ".part")
            staged.write_text(json.dumps(data, indent=2) + "\n")
            os.replace(staged, other)

    def copy_checked(self, source: Path, target: Path, sha256: str) -> None:
        staged = target.with_name(target.name + ".part")
        shutil.copyfile(source, staged)
        actual = file_sha256(staged)
        if actual != sha256:
            staged.unlink()
            raise InstallError(f"{source} does not match its manifest (sha256 {actual})")
        self.created.append(target)
        os.replace(staged, target)

    def download(self, python: Path, entry: dict, target: Path) -> None:
        # skycore.download runs in the core's environment: it may need what only that has.
        code = (
            "import sys; from skycore.download import download; "
            "download(sys.argv[1], sys.argv[2], sys.argv[3], progress=True)"
        )
        self.created.append(target)
        self.run(["-I", "-c", code, entry["url"], target, entry["sha256"]], python=python)

    def install_skies(self) -> list[Path]:
        """Copy the bundled skies into the sky folder Replace Sky offers; the user's own skies
        there are left alone (an uninstall removes only the bundled ones)."""
        self.mkdir(self.sky_dir)
        written = []
        for source in sorted(SKY_SOURCE.iterdir()):
            if source.suffix.lower() not in SKY_SUFFIXES and source.name != "SOURCES.md":
                continue
            target = self.sky_dir / source.name
            self.say(f"copy the sky {source} to {target}")
            if not self.args.dry_run:
                staged = target.with_name(target.name + ".part")
                shutil.copyfile(source, staged)
                if not target.exists():
                    self.created.append(target)
                os.replace(staged, target)
            written.append(target)
        return written

    def install_plugin(self, python: Path) -> None:
        """Stage the plug-in folder with its config next to the target, then swap it in."""
        plugins = self.plugin_dir.parent
        self.say(f"install the plug-in {PLUGIN_SOURCE} as {self.plugin_dir}")
        config = {
            "python": str(python),
            "model_dir": str(self.model_dir),
            "sky_dir": str(self.sky_dir),
            "installed_from": str(REPO),
        }
        self.say(f"write {self.plugin_dir / CONFIG_NAME}: {json.dumps(config)}")
        if self.args.dry_run:
            return
        self.mkdir(plugins)
        staging = Path(tempfile.mkdtemp(prefix=f".{PLUGIN_NAME}.", dir=plugins))
        try:
            staged = staging / PLUGIN_NAME
            shutil.copytree(
                PLUGIN_SOURCE, staged, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
            (staged / "skycore").mkdir()
            for name in VENDORED_MODULES:
                shutil.copyfile(REPO / "skycore" / name, staged / "skycore" / name)
            entry_point = staged / f"{PLUGIN_NAME}.py"
            entry_point.chmod(0o755)
            (staged / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
            previous = None
            if self.plugin_dir.exists():
                previous = staging / "previous"
                os.replace(self.plugin_dir, previous)
            else:
                self.created.append(self.plugin_dir)
            os.replace(staged, self.plugin_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def write_record(self, paths: list[Path]) -> None:
        self.say(f"record the installed paths in {self.record_path}")
        if self.args.dry_run:
            return
        old = [Path(p) for p in self.old_record()["paths"]]
        everything = list(dict.fromkeys([*old, *paths]))
        record = {"schema": 1, "paths": [str(p) for p in everything]}
        staged = self.record_path.with_name(RECORD_NAME + ".part")
        staged.write_text(json.dumps(record, indent=2) + "\n")
        os.replace(staged, self.record_path)

    # -- commands ----------------------------------------------------------------------------
    def install(self) -> None:
        if not (PLUGIN_SOURCE / f"{PLUGIN_NAME}.py").is_file():
            raise InstallError(f"{PLUGIN_SOURCE} is missing: run install.py from a checkout")
        # Resolve the models first: a wrong name must fail before minutes of pip.
        entries = [resolve_model(name) for name in self.args.model or [None]]
        try:
            python = self.python_for_core()
            models = self.install_models(python, entries)
            skies = self.install_skies()
            self.install_plugin(python)
            owned = [self.plugin_dir, *models, *skies]
            if not self.args.python:
                owned.append(self.venv)
            self.write_record([*owned, self.model_dir, self.sky_dir, self.data_dir])
        except BaseException:
            self.roll_back()
            raise
        if self.args.dry_run:
            print("dry run: nothing was changed")
        else:
            print(f"installed {self.plugin_dir}: restart GIMP 3, then use Select > Sky...")

    def roll_back(self) -> None:
        for path in reversed(self.created):
            if self.args.dry_run or not (path.exists() or path.is_symlink()):
                continue
            print(f"removing {path} (rolling back)", file=sys.stderr)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()

    def uninstall(self) -> None:
        if not self.record_path.is_file():
            raise InstallError(f"nothing to uninstall: {self.record_path} does not exist")
        paths = [Path(p) for p in self.old_record()["paths"]]
        for path in paths:
            if not (path.exists() or path.is_symlink()):
                continue
            if path.is_dir() and not path.is_symlink():
                if path in (self.model_dir, self.sky_dir, self.data_dir):
                    continue  # shared folders go last, and only if empty
                self.say(f"remove the folder {path}")
                if not self.args.dry_run:
                    shutil.rmtree(path)
            else:
                self.say(f"remove {path}")
                if not self.args.dry_run:
                    path.unlink()
        self.say(f"remove {self.record_path}")
        if not self.args.dry_run:
            self.record_path.unlink()
        for folder in (self.model_dir, self.sky_dir, self.data_dir):
            if folder in paths and folder.is_dir() and not any(folder.iterdir()):
                self.say(f"remove the empty folder {folder}")
                if not self.args.dry_run:
                    folder.rmdir()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gimp-dir", help="GIMP 3 user folder (default: found automatically)")
    parser.add_argument("--data-dir", help="folder for the venv, the models and the install record")
    parser.add_argument(
        "--model",
        action="append",
        help="model id from models/*.json or a path to an .onnx file with a manifest "
        "beside it; repeat for several (the first becomes the default)",
    )
    parser.add_argument(
        "--python", help="use this existing Python (which imports skycore) instead of a venv"
    )
    parser.add_argument(
        "--base-python",
        default=sys.executable,
        help="the Python that creates the venv (default: the one running install.py; for a "
        "Flatpak GIMP, the sandbox's python3)",
    )
    parser.add_argument(
        "--system-site-packages",
        action="store_true",
        help="let the venv see the base Python's packages (reuses numpy etc. if present)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="pip install without an index or build isolation (packages must already be "
        "available: in the base Python with --system-site-packages, or via PIP_FIND_LINKS)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the steps, change nothing")
    parser.add_argument(
        "--uninstall", action="store_true", help="remove what the last install recorded"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        installer = Installer(args)
        if args.uninstall:
            installer.uninstall()
        else:
            installer.install()
    except InstallError as exc:
        print(f"install.py: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
