"""Explicit generation capacity: at most ``slots`` answers are generated at once by this API process;
up to ``queue`` more wait in line and learn their position; beyond that a request gets 503 with
Retry-After at once. Searches never pass through here, so generation never blocks them."""

from __future__ import annotations

import threading
import time
from collections import deque

from core.errors import KBError


class GenerationBusy(KBError):
    """Every generation slot is busy and the line is full; ``retry_after`` seconds is a fair wait."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Ticket:
    """A place in line; ``wait`` until it holds a slot, then ``release`` it (also when leaving early)."""

    def __init__(self, gate: GenerationGate) -> None:
        self._gate = gate
        self.admitted = False
        self.released = False

    def position(self) -> int:
        """0 when generating, else the place in line (1 = next)."""
        return self._gate._position(self)

    def wait(self, timeout: float | None = None) -> bool:
        """True once admitted; False when ``timeout`` passed first (still in line)."""
        return self._gate._wait(self, timeout)

    def release(self) -> None:
        self._gate._release(self)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class GenerationGate:
    """FIFO admission to ``slots`` concurrent generations with a bounded line of ``queue``."""

    def __init__(self, slots: int, queue: int, retry_after: int = 10) -> None:
        self.slots, self.queue, self.retry_after = slots, queue, retry_after
        self._cond = threading.Condition()
        self._running = 0
        self._line: deque[Ticket] = deque()

    def check(self) -> None:
        """GenerationBusy when a new question would find the line full."""
        with self._cond:
            self._check()

    def _check(self) -> None:
        if len(self._line) >= self.queue and self._running >= self.slots:
            raise GenerationBusy(
                f"all {self.slots} answer slot(s) are busy and {len(self._line)} questions are waiting; "
                f"try again in {self.retry_after} s",
                self.retry_after,
            )

    def ticket(self) -> Ticket:
        """A place in line, or GenerationBusy when the line is full."""
        with self._cond:
            self._check()
            ticket = Ticket(self)
            self._line.append(ticket)
            self._admit()
            return ticket

    def stats(self) -> tuple[int, int]:
        """(generating, waiting)."""
        with self._cond:
            return self._running, len(self._line)

    def _admit(self) -> None:
        while self._line and self._running < self.slots:
            ticket = self._line.popleft()
            ticket.admitted = True
            self._running += 1
        self._cond.notify_all()

    def _position(self, ticket: Ticket) -> int:
        with self._cond:
            if ticket.admitted:
                return 0
            return self._line.index(ticket) + 1 if ticket in self._line else 0

    def _wait(self, ticket: Ticket, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not ticket.admitted:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def _release(self, ticket: Ticket) -> None:
        with self._cond:
            if ticket.released:
                return
            ticket.released = True
            if ticket.admitted:
                self._running -= 1
            elif ticket in self._line:
                self._line.remove(ticket)
            self._admit()
