"""Values a process remembers for a few seconds instead of reading them per request."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any


class Remembered:
    """What ``load()`` returned for a key, kept per process for ``seconds`` (given at
    each call, so a setting read then counts). Another process's changes show once it
    expires; ``put`` keeps what this process just wrote; ``forget`` drops everything
    (after a change here, and between tests)."""

    def __init__(self) -> None:
        self._values: dict[Hashable, tuple[float, Any]] = {}

    def get(self, key: Hashable, seconds: float, load: Callable[[], Any]) -> Any:
        kept = self._fresh(key, seconds)
        if kept is not None:
            return kept[1]
        value = load()
        self.put(key, value)
        return value

    def get_many(
        self,
        keys: Iterable[Hashable],
        seconds: float,
        load: Callable[[list[Hashable]], dict[Hashable, Any]],
        missing: Callable[[], Any] = lambda: None,
    ) -> dict[Hashable, Any]:
        """Each key's value, loading the expired ones in one ``load(keys)`` call; a key
        ``load`` leaves out is remembered as ``missing()``."""
        keys = list(keys)
        found = {k: kept[1] for k in keys if (kept := self._fresh(k, seconds)) is not None}
        stale = [k for k in keys if k not in found]
        if stale:
            loaded = load(stale)
            for k in stale:
                found[k] = loaded[k] if k in loaded else missing()
                self.put(k, found[k])
        return found

    def put(self, key: Hashable, value: Any) -> None:
        self._values[key] = (time.monotonic(), value)

    def forget(self, *_args) -> None:
        self._values.clear()

    def _fresh(self, key: Hashable, seconds: float) -> tuple[float, Any] | None:
        kept = self._values.get(key)
        return kept if kept is not None and time.monotonic() - kept[0] < seconds else None
