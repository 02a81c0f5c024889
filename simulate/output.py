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
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from .errors import InputError, RunError
from .summary import jsonable


def new_run_folder(results_root: Path, scenario: str, fingerprint: str) -> Path:
    """Create `results/<scenario>/<timestamp>-<hash>/`, never reusing an existing one."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    short = hashlib.sha256(f"{fingerprint}{os.getpid()}{dt.datetime.now().isoformat()}".encode()).hexdigest()[:6]
    parent = results_root / scenario
    folder = parent / f"{stamp}-{short}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir()
    except FileExistsError:
        return new_run_folder(results_root, scenario, fingerprint + "'")
    except OSError as exc:
        raise InputError(f"cannot create the results folder {parent}: {exc.strerror}") from None
    return folder


def prepare_out(folder: Path) -> Path:
    """`--out DIR`: write into DIR itself, creating it if needed; it must be writable."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the output folder {folder}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise InputError(f"the output folder {folder} is not writable")
    return folder


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


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` then rename tmp onto `path`; on failure remove tmp and raise."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
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


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
