"""Database models, split by aggregate; import them from here."""

from .providers import Provider
from .tasks import TaskEvent, VideoTask
from .users import ApiToken, User, UserSession

__all__ = ["ApiToken", "Provider", "TaskEvent", "User", "UserSession", "VideoTask"]
