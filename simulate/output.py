"""The run folder: where a run's results land, written so that nothing is ever half-written.

A run goes to `results/<scenario>/<run-id>/` (a timestamp plus a short hash), or into the
folder `--out` names. Every file is written to a temporary name in the same folder and then
renamed, so a crash, a full disk or Ctrl-C never leaves a truncated file that looks
complete. Earlier runs are never overwritten; `results/<scenario>/latest` points to the
newest. `RunView` is the way back: what a folder's tables say, as the report reads them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from .errors import InputError, RunError
from .summary import jsonable


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


@dataclass
class RunView:
    """What a run folder holds, as the report and its charts read it: the headline variant
    (the first in summary.json) and, beside it, the variants simulated with it."""

    summary: dict[str, Any]
    replications: pd.DataFrame
    weekly: pd.DataFrame
    firings: pd.DataFrame | None
    start: dt.date
    days: float                     # the horizon's length: the last week may be short

    @property
    def headline(self) -> str:
        return next(iter(self.summary["variants"]))

    def others(self) -> list[str]:
        """The other variants simulated beside the headline, companions included (at most 3)."""
        names = self.replications["variant"].unique() if "variant" in self.replications else []
        return [str(n) for n in names if n != self.headline][:3]

    def label(self, variant: str) -> str:
        """A companion's name for people: '__baseline__' reads 'baseline (without the shocks)'."""
        name = variant.strip("_").replace("_", " ")
        shocked = name == "baseline" and self.summary.get("shocks")
        return name + (" (without the shocks)" if shocked else "")

    def rows(self, variant: str | None = None) -> pd.DataFrame:
        rows = self.replications
        return rows[rows["variant"] == (variant or self.headline)] if "variant" in rows else rows

    def weeks(self, variant: str | None = None) -> pd.DataFrame:
        """A variant's weeks, without trailing weeks the year never closed (all zero)."""
        w = self.weekly
        w = w[w["variant"] == (variant or self.headline)] if "variant" in w else w
        kpis = w.drop(columns=["week", "variant"], errors="ignore").to_numpy()
        closed = np.flatnonzero(np.abs(kpis).sum(axis=1) > 0)
        return w.iloc[: closed[-1] + 1] if closed.size else w

    def date(self, day: float) -> dt.date:
        return self.start + dt.timedelta(days=float(day))

    def week_end(self, week: int) -> float:
        """The day a (1-based) week closes on."""
        return min(7.0 * week, self.days)

    def target_to_date(self, days: np.ndarray) -> np.ndarray:
        """The target path: quarterly targets spread evenly over their quarters (else linear)."""
        quarters = self.summary["variants"][self.headline].get("by_quarter") or {}
        goals = [q.get("target") for q in quarters.values()]
        if not goals or any(g is None for g in goals):
            return self.summary["target"] * np.minimum(days / self.days, 1.0)
        edges = np.arange(len(goals) + 1) * 91.25
        return np.interp(days, edges, np.concatenate([[0.0], np.cumsum(goals)]))

    def monthly_pipeline(self) -> pd.DataFrame:
        """Per month of the average year: deals open in each stage (mean) and deals signed."""
        w = self.weeks()
        month = [self.date(self.week_end(wk) - 1).strftime("%Y-%m") for wk in w["week"]]
        stages = ["open_lead_mean", "open_intent_mean", "open_negotiation_mean"]
        signed = w["signed_week_mean"].groupby(month).sum()
        counts = pd.concat([w[stages].groupby(month).mean(), signed], axis=1)
        counts.columns = ["lead", "intent", "negotiation", "signed"]
        return counts

    def first_firings(self) -> dict[str, np.ndarray]:
        """Each rule's first firing day, in every year it fired: from the replications'
        `first:` columns, else from the firings table."""
        rows, f = self.rows(), self.firings
        firsts = {c.split(":", 1)[1]: rows[c].dropna().to_numpy()
                  for c in rows if c.startswith("first:")}
        if not firsts and f is not None and not f.empty:
            if "variant" in f:   # the headline's firings, else the first variant's with rules
                f = f[f["variant"] == (self.headline if self.headline in set(f["variant"])
                                       else f["variant"].iloc[0])]
            firsts = {str(rule): g.groupby("replication")["day"].min().to_numpy()
                      for rule, g in f.groupby("rule", sort=False)}
        return {rule: np.sort(days) for rule, days in firsts.items() if len(days)}
