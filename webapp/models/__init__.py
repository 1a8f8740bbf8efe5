"""Database models, split by aggregate; import them from here."""

from .attempts import SubmitAttempt
from .health import ProviderBucket, ProviderCallStat, ProviderHealth
from .providers import Provider
from .rollups import StatsRollup
from .tasks import DeletedTask, TaskEvent, VideoTask
from .users import ApiToken, LoginThrottle, OneTimeLink, SiteSetting, User, UserSession

__all__ = [
    "ApiToken",
    "DeletedTask",
    "LoginThrottle",
    "OneTimeLink",
    "Provider",
    "ProviderBucket",
    "ProviderCallStat",
    "ProviderHealth",
    "SiteSetting",
    "StatsRollup",
    "SubmitAttempt",
    "TaskEvent",
    "User",
    "UserSession",
    "VideoTask",
]
