"""One answer running in the background, read as events: stage changes and a heartbeat with the
elapsed time while the user waits, each checked sentence as it is shown, then the answer. Cancelling
(the Stop button, or the asker's connection closing) stops the model at its next token."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from generation.answerer import AskHooks
from generation.streaming import AnswerCancelled, ShownPiece

HEARTBEAT_S = 1.0

Event = tuple[str, dict[str, Any]]


class AnswerStream:
    """Runs ``answer(hooks)`` in a thread; ``next_event`` returns ``progress`` (stage and elapsed
    time, at least every ``HEARTBEAT_S``), ``sentence`` ({"delta", "citations"}), then ``answer`` or
    ``error``, then None."""

    def __init__(
        self,
        answer: Callable[[AskHooks], dict[str, Any]],
        error_body: Callable[[BaseException], dict[str, Any]],
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self._events: queue.Queue[Event | None] = queue.Queue()
        self._cancel = threading.Event()
        self._heartbeat_s = heartbeat_s
        self._started = time.perf_counter()
        self._stage = "searching"
        self._done = False
        hooks = AskHooks(on_piece=self._piece, on_stage=self._on_stage, should_stop=self._cancel.is_set)

        def work() -> None:
            try:
                self._events.put(("answer", answer(hooks)))
            except AnswerCancelled:
                pass  # nobody is listening any more
            except BaseException as exc:  # reported to the client as an error event
                self._events.put(("error", error_body(exc)))
            finally:
                self._events.put(None)

        threading.Thread(target=work, name="kb-chat", daemon=True).start()

    def _elapsed_ms(self) -> float:
        return round((time.perf_counter() - self._started) * 1000, 1)

    def _progress(self) -> Event:
        return "progress", {"stage": self._stage, "elapsed_ms": self._elapsed_ms()}

    def _on_stage(self, stage: str) -> None:
        self._stage = stage
        self._events.put(self._progress())

    def _piece(self, piece: ShownPiece) -> None:
        citations = [{"n": c.n, "document_id": c.document_id, "title": c.title, "page": c.page}
                     for c in piece.citations]  # fmt: skip
        self._events.put(("sentence", {"delta": piece.delta, "citations": citations}))

    def next_event(self) -> Event | None:
        """The next event (blocking at most ``heartbeat_s``: then a ``progress`` event); None at the end."""
        if self._done:
            return None
        try:
            item = self._events.get(timeout=self._heartbeat_s)
        except queue.Empty:
            return self._progress()
        if item is None:
            self._done = True
        return item

    def cancel(self) -> None:
        """Stop the answer: the model stops at its next token and nothing is saved."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()
