"""The run folder: where a run's results land, written so that nothing is ever half-written.

A run goes to `results/<scenario>/<run-id>/` (a timestamp plus a short hash), or into the
folder `--out` names. Every file is written to a temporary name in the same folder and then
renamed, so a crash, a full disk or Ctrl-C never leaves a truncated file that looks
complete. Earlier runs are never overwritten; `results/<scenario>/latest` points to the
newest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .errors import InputError, RunError


def new_run_folder(results_root: Path, scenario: str, fingerprint: str) -> Path:
    """Create `results/<scenario>/<timestamp>-<hash>/`, never reusing an existing one."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    unique = f"{fingerprint}{os.getpid()}{dt.datetime.now().isoformat()}"
    short = hashlib.sha256(unique.encode()).hexdigest()[:6]
    parent = results_root / scenario
    folder = parent / f"{stamp}-{short}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir()
    except FileExistsError:
        return new_run_folder(results_root, scenario, fingerprint + "'")
    except OSError as exc:
        reason = exc.strerror or exc
        raise InputError(f"cannot create the results folder {parent}: {reason}") from None
    probe_writable(folder)
    return folder


def prepare_out(folder: Path) -> Path:
    """`--out DIR`: write into DIR itself, creating it if needed; it must be writable.

    Checked before the run starts, so a typo in the path costs seconds, not a whole run.
    """
    if folder.exists() and not folder.is_dir():
        raise InputError(f"the output folder {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or exc
        raise InputError(f"cannot create the output folder {folder}: {reason}") from None
    probe_writable(folder)
    return folder


def probe_writable(folder: Path) -> None:
    """Create and remove a scratch file: the one check that holds for root and read-only mounts."""
    try:
        fd, name = tempfile.mkstemp(prefix=".probe-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        reason = exc.strerror or exc
        raise InputError(f"the output folder {folder} is not writable: {reason}") from None


def point_latest(folder: Path) -> None:
    """Make `<scenario>/latest` a symlink to the newest run (replaced atomically)."""
    link = folder.parent / "latest"
    tmp = folder.parent / f".latest-{os.getpid()}"
    try:
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(folder.name)
        os.replace(tmp, link)
    except OSError:
        pass    # a filesystem without symlinks still has the run itself


@contextmanager
def all_or_nothing(folder: Path) -> Iterator[Path]:
    """Save a run folder whole or not at all: yields a hidden staging folder inside `folder`.

    Everything is written there first; only when all of it is written are the files moved
    into `folder` (renames on one file system: they need no space and cannot half-happen),
    `summary.json`, the mark of a complete folder, last. If anything fails on the way (a full
    disk, a folder gone read-only, Ctrl-C), the staging folder is removed and `folder` is as it
    was: an earlier run saved there with `--out` is untouched. A file system error becomes
    one clear `RunError`.
    """
    try:
        staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=folder))
    except OSError as exc:
        raise RunError(f"could not write the run folder {folder}: {exc.strerror or exc}") from None
    try:
        yield staging
        _move_into(staging, folder)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise RunError(f"could not write the run folder {folder}: {exc.strerror or exc}; "
                           "nothing of this run was kept") from None
        if isinstance(exc, RunError):
            raise RunError(f"{exc}; nothing of this run was kept") from None
        raise
    shutil.rmtree(staging, ignore_errors=True)


def _move_into(staging: Path, folder: Path) -> None:
    """Move the staged files into `folder`, replacing what is there; summary.json last."""
    (folder / "summary.json").unlink(missing_ok=True)    # incomplete until the very end
    entries = sorted(staging.rglob("*"), key=lambda p: (p.name == "summary.json", len(p.parts)))
    for entry in entries:
        target = folder / entry.relative_to(staging)
        if entry.is_dir():
            target.mkdir(exist_ok=True)
        else:
            os.replace(entry, target)


def remove_if_empty(folder: Path) -> None:
    """Take back a run folder that was created for a run that never saved anything."""
    try:
        folder.rmdir()
    except OSError:
        pass     # not empty (an --out folder with other files), or already gone


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` then rename tmp onto `path`; on failure remove tmp and raise."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise RunError(f"could not write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())   # mkstemp makes 0600; results are for sharing
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunError(f"could not write {path}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    text = json.dumps(jsonable(data), indent=2, ensure_ascii=False) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    write_atomic(path, lambda tmp: tmp.write_bytes(data))


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def jsonable(obj: Any) -> Any:
    """NaN and infinities become null: JSON has no NaN, and scripts choke on it."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
