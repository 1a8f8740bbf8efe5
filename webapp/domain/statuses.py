"""Task statuses and the transitions allowed between them.

QUEUED (stored, not yet accepted upstream) → PROCESSING (has an external id)
→ COMPLETED | FAILED | CANCELLED. Terminal states never change.
"""

QUEUED = "QUEUED"
PROCESSING = "PROCESSING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"

ALL = (QUEUED, PROCESSING, COMPLETED, FAILED, CANCELLED)
ACTIVE = (QUEUED, PROCESSING)
TERMINAL = (COMPLETED, FAILED, CANCELLED)

VIDEO = "VIDEO"
IMAGE = "IMAGE"
MEDIA_TYPES = (VIDEO, IMAGE)

_ALLOWED = {
    QUEUED: {QUEUED, PROCESSING, COMPLETED, FAILED, CANCELLED},
    PROCESSING: {PROCESSING, COMPLETED, FAILED, CANCELLED},
}

LABELS = {
    QUEUED: "Queued",
    PROCESSING: "Processing",
    COMPLETED: "Completed",
    FAILED: "Failed",
    CANCELLED: "Cancelled",
}


def is_terminal(status: str) -> bool:
    return status in TERMINAL


def can_transition(old: str, new: str) -> bool:
    return new in _ALLOWED.get(old, set())
