"""One way to build a heavy object (a model, an engine) on first use, once, safely across threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LazyResource(Generic[T]):
    """Builds a heavy object on first use, once per instance, safely across threads."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the object has been built."""
        return self._value is not None

    def get(self) -> T:
        """The object, built now if this is the first call."""
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._factory()
                value = self._value
        return value
