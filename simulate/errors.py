"""The one exception family of simulate.

A sales manager who mistypes a plan must get one clear line back, never a traceback.
Every error the package raises on purpose derives from `SimulateError`; the CLI catches
that root and maps it to an exit code::

    SimulateError                 exit 1 unless a subclass says otherwise
    ├── InputError                exit 2: the user's files or arguments are wrong
    │   ├── YamlError             the file is not the YAML we accept (syntax, tabs, bombs)
    │   ├── PlanError             the YAML parsed but the plan it describes is invalid
    │   └── UsageError            bad command-line usage
    └── RunError                  exit 1: the run itself failed (a worker died, disk full)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Location:
    """Where a value was written: file, 1-based line and 1-based column."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class SimulateError(Exception):
    """Root of every error simulate raises on purpose."""

    exit_code = 1


class InputError(SimulateError):
    """Something the user wrote is wrong; the message says where and what."""

    exit_code = 2

    def __init__(self, message: str, location: Location | None = None, key: str | None = None):
        self.message = message
        self.location = location
        self.key = key
        super().__init__(self.render())

    def render(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        key = f"{self.key}: " if self.key else ""
        return f"{prefix}{key}{self.message}"


class YamlError(InputError):
    """The file cannot be read as a plan document."""


class PlanError(InputError):
    """The document is valid YAML but not a valid plan."""


class UsageError(InputError):
    """The command line is wrong."""


class RunError(SimulateError):
    """The run could not complete (a worker died, the disk is full...)."""

    exit_code = 1


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' suffix when a close match exists, else ''."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""
