"""What a task's own columns say about it, for the model and for a list row alike."""

from __future__ import annotations

from . import statuses


class TaskFacts:
    """Derived facts, read from ``status``, ``created_at``, ``completed_at``, ``size``
    and ``aspect_ratio`` of whatever carries them (a VideoTask, a history row)."""

    __slots__ = ()

    @property
    def is_terminal(self) -> bool:
        return statuses.is_terminal(self.status)

    @property
    def duration_seconds(self) -> float | None:
        """Generation time: creation to completion."""
        if self.completed_at and self.created_at:
            return (self.completed_at - self.created_at).total_seconds()
        return None

    @property
    def frame_aspect(self) -> float:
        """Width / height of a frame: from the size, else the aspect ratio, else 16:9."""
        for given, sep in ((self.size, "x"), (self.aspect_ratio, ":")):
            w, _, h = (given or "").partition(sep)
            if w.isdigit() and h.isdigit() and int(h):
                return round(int(w) / int(h), 4)
        return round(16 / 9, 4)
