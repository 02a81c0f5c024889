"""A simulated year forked at a rule's first firing: the child plays on without the rule.

Without a rule, a year is identical to the year with it until the moment the rule would
first fire: the same streams give the same leads, departures and renewals, and a rule
changes nothing before it fires. So the year without the rule needs only its rest. The
process forks at that moment (copy-on-write: the whole SimPy state, closures and all, is
the child's in microseconds); the child drops the rule and plays the year to its end, sends
its record back through a pipe and exits; the parent carries on with the rule. The value
of a rule thus costs the suffix of the years in which it fires, never a second prefix.

A fork is not free: the page tables are copied, and every page either process writes after
it is copied too (reference counts make that most pages a year touches), about a quarter of
a year's own time on the reference plan. A rule that fires in the year's first `FORK_FROM`
share saves less than that, so its year is played again from day 0 without the rule once
the year is done (`replays`): the same record, without the fork.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
import warnings
from typing import Any, Iterable, Iterator, NoReturn

from ..errors import RunError

FORK_FROM = 0.25    # share of the horizon after which a first firing forks (before: a replay)


@contextlib.contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Hold Ctrl-C while forking, until the child is on record; it lands when the block ends.
    Python drops a KeyboardInterrupt raised inside its at-fork hooks (logging's lock release),
    so a Ctrl-C that lands mid-fork would be lost and the run carry on to exit 0. A child
    forked in the block leaves Ctrl-C to its parent, which stops and reaps it."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is None:
        yield       # only the main thread takes Ctrl-C; a handler set outside Python stays
        return
    parent = os.getpid()
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        if os.getpid() != parent:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        else:
            signal.signal(signal.SIGINT, previous)
            if pressed:
                signal.raise_signal(signal.SIGINT)


def ctrl_c_released(handler: Any) -> None:
    """In a worker process forked under `ctrl_c_held`: take Ctrl-C as its parent did."""
    if handler is not None:
        signal.signal(signal.SIGINT, handler)


class Branches:
    """The rules of one year still to be forked at their first firing, the children, and the
    rules that fired too early to fork (played again whole after the year)."""

    def __init__(self, rules: Iterable[str] = (), fork_from: float = 0.0):
        self.pending = set(rules)
        self.fork_from = fork_from                          # horizon day from which a firing forks
        self.children: dict[str, tuple[int, int | None]] = {}  # rule -> (pid, read end of its pipe)
        self.replays: list[str] = []                        # rules to play again from day 0
        self.pipe: int | None = None                        # in a child: where its record goes

    @property
    def is_child(self) -> bool:
        return self.pipe is not None

    def wants(self, rule: str) -> bool:
        return rule in self.pending

    def split(self, rule: str, now: float) -> bool:
        """Fork the year now (day `now`). True in the child, which must play on without `rule`;
        before `fork_from` the rule is kept for a replay instead and the year goes on."""
        self.pending.discard(rule)
        if now < self.fork_from:
            self.replays.append(rule)
            return False
        read, write = os.pipe()
        with ctrl_c_held():
            with warnings.catch_warnings():     # the child never touches the parent's threads' locks
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:
                os.close(read)
                for _, fd in self.children.values():     # all open: only `collect` closes them
                    os.close(fd)
                self.children, self.pending, self.replays, self.pipe = {}, set(), [], write
            else:
                os.close(write)
                self.children[rule] = (pid, read)
        return pid == 0

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
        for rule, (pid, fd) in list(self.children.items()):
            self.children[rule] = (pid, None)   # the pipe is the file's now: it closes it
            with os.fdopen(fd, "rb") as f:
                data = f.read()
            os.waitpid(pid, 0)
            del self.children[rule]             # reaped: what `abandon` leaves alone
            result = pickle.loads(data) if data else "the process died"
            if not isinstance(result, dict):
                raise RunError(f"the year without rule {rule} failed: {result}")
            out[rule] = result
        return out

    def abandon(self) -> None:
        """Stop and reap every child (the parent's year failed or was interrupted)."""
        children, self.children = self.children, {}
        for pid, fd in children.values():
            if fd is not None:
                os.close(fd)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
