"""Every JSON request and response, declared once in pydantic: the views parse with them,
the serializers build them, and the OpenAPI document (``/api/openapi.json``) is
generated from them.

Fields are named as the service names them and carry the request's own spelling as an
alias (``duration`` for seconds, ``aspectRatio``, ``referenceImage``, ``apiConfigId`` on
/api; ``input_reference`` on /v1), so an error names the field the way the client sent
it. The /v1 ``Video`` is exactly the official ``openai`` SDK's ``Video``.
"""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from spectree.model_adapter.pydantic_adapter import BaseFile

T = TypeVar("T")
Text = Annotated[str, Field(max_length=32000)]


class Body(BaseModel):
    """A request body: unknown fields are ignored (old clients send extras)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    @classmethod
    def aliases(cls) -> dict[str, str]:
        """Service field name → the name this request uses for it."""
        return {name: f.alias for name, f in cls.model_fields.items() if f.alias}


class Out(BaseModel):
    """A response body: exactly these fields."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")


# ---- the OpenAI Videos API (/v1) -------------------------------------------------------

VideoSize = Literal["720x1280", "1280x720", "1024x1792", "1792x1024"]
VIDEO_SIZES: tuple[str, ...] = VideoSize.__args__


class ImageReference(Body):
    image_url: str | None = None
    file_id: str | None = None


class VideoCreate(Body):
    """``POST /v1/videos`` (multipart, as the SDK always sends it, or JSON)."""

    prompt: Text
    model: str | None = Field(None, max_length=200)
    seconds: StrictStr | StrictInt | None = None
    size: str | None = Field(None, max_length=20)
    reference_image: ImageReference | BaseFile | None = Field(None, alias="input_reference")


class VideoRemix(Body):
    prompt: Text


class VideoError(Out):
    code: str
    message: str


class Video(Out):
    """openai SDK 3.54 ``openai.types.Video``: the same fields, the same types."""

    id: str
    object: Literal["video"] = "video"
    created_at: int
    completed_at: int | None = None
    expires_at: int | None = None
    error: VideoError | None = None
    model: str
    progress: int
    prompt: str | None = None
    remixed_from_video_id: str | None = None
    seconds: str
    size: VideoSize
    status: Literal["queued", "in_progress", "completed", "failed"]


class VideoList(Out):
    object: Literal["list"] = "list"
    data: list[Video]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoListQuery(Body):
    after: str | None = Field(None, max_length=64)
    limit: str | None = None
    order: str | None = None


class VideoContentQuery(Body):
    variant: str | None = None


class VideoDeleted(Out):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool


class OpenAIErrorDetail(Out):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(Out):
    error: OpenAIErrorDetail


# ---- the replaced backend's API (/api) -------------------------------------------------


class TaskCreate(Body):
    """``POST /api/video/tasks``."""

    prompt: Text
    model: str = Field(max_length=100)
    size: str | None = Field(None, max_length=20)
    seconds: StrictInt | StrictStr | None = Field(None, alias="duration")
    aspect_ratio: str | None = Field(None, alias="aspectRatio", max_length=10)
    reference_image: str | None = Field(None, alias="referenceImage")
    provider: StrictInt | StrictStr | None = Field(None, alias="apiConfigId")
    watermark: bool | str | None = None
    hd: bool | str | None = None
    private: bool | str | None = None
    n: int | str | None = None


class RelayCreate(Body):
    """``POST /api/relay/sora/videos`` (multipart)."""

    prompt: Text
    model: str = Field(max_length=100)
    size: str | None = Field(None, max_length=20)
    seconds: str | None = None
    aspect_ratio: str | None = Field(None, max_length=10)
    reference_image: BaseFile | None = Field(None, alias="input_reference")
    provider: str | None = Field(None, alias="apiConfigId")
    watermark: str | None = None
    hd: str | None = None
    private: str | None = None
    n: str | None = None


class TaskRemix(Body):
    prompt: Text
    model: str | None = Field(None, max_length=100)


class Mapping(Body):
    """``POST /api/video/mapping``: the client made the upstream job itself."""

    external_id: str = Field(alias="externalTaskId", max_length=255)
    provider: StrictInt | StrictStr = Field(alias="apiConfigId")
    model: str | None = Field(None, max_length=100)
    video_id: str | None = Field(None, alias="videoId", max_length=64)
    prompt: str | None = Field(None, max_length=32000)


class Login(Body):
    email: str = Field(max_length=254)
    password: str = Field(max_length=200)


class Register(Login):
    invite: str | None = Field(None, max_length=100)


class TaskListQuery(Body):
    page: str | None = None
    pageSize: str | None = None  # noqa: N815 - the replaced backend's names
    status: str | None = None
    mediaType: str | None = None  # noqa: N815
    orderBy: str | None = None  # noqa: N815
    order: str | None = None
    model: str | None = Field(None, max_length=100)
    q: str | None = Field(None, max_length=200)


class GatewayQueryBody(Body):
    video_id: str = Field(max_length=64)


class TaskErrorInfo(Out):
    code: str | None
    message: str | None


class TaskMetadata(Out):
    externalTaskId: str | None  # noqa: N815
    provider: str | None
    remix_from: str | None = None
    remix_from_external: str | None = None
    type: Literal["remix"] | None = None


class CompatTask(Out):
    videoId: str  # noqa: N815
    status: Literal["QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"]
    progress: int
    videoUrl: str | None  # noqa: N815
    thumbnailUrl: str | None  # noqa: N815
    prompt: str
    model: str
    mediaType: Literal["VIDEO", "IMAGE"]  # noqa: N815
    duration: int | None
    size: str | None
    aspectRatio: str | None  # noqa: N815
    error: TaskErrorInfo | None
    createdAt: str  # noqa: N815
    completedAt: str | None  # noqa: N815
    metadata: TaskMetadata


class TaskPage(Out):
    tasks: list[CompatTask]
    total: int
    page: int
    pageSize: int  # noqa: N815


class ContentLink(Out):
    videoId: str  # noqa: N815
    externalVideoId: str | None  # noqa: N815
    url: str | None


class RefreshedLink(Out):
    videoId: str  # noqa: N815
    externalVideoId: str | None  # noqa: N815
    videoUrl: str | None  # noqa: N815
    status: str
    refreshedAt: str | None  # noqa: N815


class Counts(Out):
    total: int
    completed: int
    failed: int
    processing: int
    queued: int
    cancelled: int


class RelayTask(Out):
    videoId: str  # noqa: N815
    externalTaskId: str | None  # noqa: N815
    status: Literal["queued", "processing", "completed", "failed", "cancelled"]
    progress: int


class AccountInfo(Out):
    id: int
    email: str
    role: str


class TokenGrant(Out):
    token: str
    user: AccountInfo


class Pending(Out):
    pending: Literal[True]


class GatewayQuery(Out):
    """The sibling one-api gateway's query answer."""

    task_id: str
    video_id: str
    task_status: Literal["processing", "success", "failed"]
    message: str
    duration: str | None
    video_result: str | None


class Envelope(Out, Generic[T]):
    success: Literal[True] = True
    data: T
    message: str


class CompatError(Out):
    success: Literal[False] = False
    message: str
    code: str
    errors: dict[str, str] | None = None
