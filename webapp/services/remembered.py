"""Values a process remembers for a few seconds instead of reading them per request."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any


class Remembered:
    """What ``load()`` returned for a key, kept per process for ``seconds`` (given at
    each call, so a setting read then counts). Another process's changes show once it
    expires; ``forget`` drops everything (after a change here, and between tests)."""

    def __init__(self) -> None:
        self._values: dict[Hashable, tuple[float, Any]] = {}

    def get(self, key: Hashable, seconds: float, load: Callable[[], Any]) -> Any:
        kept = self._values.get(key)
        if kept is not None and time.monotonic() - kept[0] < seconds:
            return kept[1]
        value = load()
        self._values[key] = (time.monotonic(), value)
        return value

    def forget(self, *_args) -> None:
        self._values.clear()
