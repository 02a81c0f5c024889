"""A simulated year forked at a rule's first firing: the child plays on without the rule.

Without a rule, a year is identical to the year with it until the moment the rule would
first fire: the same streams give the same leads, departures and renewals, and a rule
changes nothing before it fires. So the year without the rule needs only its rest. The
process forks at that moment (copy-on-write: the whole SimPy state, closures and all, is
the child's in microseconds); the child drops the rule and plays the year to its end, sends
its record back through a pipe and exits; the parent carries on with the rule. The value
of a rule thus costs the suffix of the years in which it fires, never a second prefix.
"""

from __future__ import annotations

import os
import pickle
import signal
import warnings
from typing import Any, Iterable, NoReturn

from ..errors import RunError


class Branches:
    """The rules of one year still to be forked at their first firing, and the children."""

    def __init__(self, rules: Iterable[str] = ()):
        self.pending = set(rules)
        self.children: dict[str, tuple[int, int]] = {}     # rule -> (pid, read end of its pipe)
        self.pipe: int | None = None                        # in a child: where its record goes

    @property
    def is_child(self) -> bool:
        return self.pipe is not None

    def wants(self, rule: str) -> bool:
        return rule in self.pending

    def split(self, rule: str) -> bool:
        """Fork the year now. True in the child, which must play on without `rule`."""
        self.pending.discard(rule)
        read, write = os.pipe()
        with warnings.catch_warnings():     # the child never touches the parent's threads' locks
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            os.close(read)
            for _, fd in self.children.values():
                os.close(fd)
            self.children, self.pending, self.pipe = {}, set(), write
            return True
        os.close(write)
        self.children[rule] = (pid, read)
        return False

    def exit_child(self, payload: Any) -> NoReturn:
        """Send the child's record (or the error that stopped it) and end the child process.
        `os._exit`: the child must never return into the caller's stack (a worker's loop)."""
        assert self.pipe is not None
        try:
            data = pickle.dumps(payload if not isinstance(payload, BaseException) else repr(payload))
            view = memoryview(data)
            while view:
                view = view[os.write(self.pipe, view):]
        finally:
            os._exit(0)

    def collect(self) -> dict[str, dict[str, float]]:
        """Each child's record, by the rule it dropped (waits for the children to end)."""
        out: dict[str, dict[str, float]] = {}
        children, self.children = self.children, {}
        for rule, (pid, fd) in children.items():
            with os.fdopen(fd, "rb") as f:
                data = f.read()
            os.waitpid(pid, 0)
            result = pickle.loads(data) if data else "the process died"
            if not isinstance(result, dict):
                raise RunError(f"the year without rule {rule} failed: {result}")
            out[rule] = result
        return out

    def abandon(self) -> None:
        """Stop and reap every child (the parent's year failed or was interrupted)."""
        children, self.children = self.children, {}
        for pid, fd in children.values():
            os.close(fd)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
