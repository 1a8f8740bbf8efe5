"""The OpenAPI 3.1 document for every JSON route, served at /api/openapi.json."""

from __future__ import annotations

from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)

BEARER = [{"bearer": []}]


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _envelope(data_schema):
    return {
        "type": "object",
        "required": ["success", "data"],
        "properties": {
            "success": {"const": True},
            "data": data_schema,
            "message": {"type": "string"},
        },
    }


def _json(schema):
    return {"content": {"application/json": {"schema": schema}}}


def _compat(
    summary,
    data_schema,
    *,
    body=None,
    params=(),
    status="200",
    auth=True,
    errors=("401", "404", "422", "429"),
):
    op = {
        "summary": summary,
        "parameters": list(params),
        "responses": {status: {"description": "OK", **_json(_envelope(data_schema))}},
    }
    for code in errors:
        op["responses"][code] = {"description": "Error", **_json(_ref("CompatError"))}
    if body is not None:
        op["requestBody"] = {"required": True, **body}
    if auth:
        op["security"] = BEARER
    else:
        op["security"] = []
    return op


def _openai(
    summary,
    schema,
    *,
    body=None,
    params=(),
    errors=("400", "401", "404", "409", "429"),
    content=None,
):
    op = {
        "summary": summary,
        "security": BEARER,
        "parameters": list(params),
        "responses": {"200": {"description": "OK", **(content or _json(schema))}},
    }
    for code in errors:
        op["responses"][code] = {"description": "Error", **_json(_ref("OpenAIError"))}
    if body is not None:
        op["requestBody"] = {"required": True, **body}
    return op


def path_param(name):
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "maxLength": 64},
    }


def query(name, schema):
    return {"name": name, "in": "query", "required": False, "schema": schema}


TASK = _ref("Task")
VIDEO = _ref("Video")
VID = path_param("videoId")
OVID = path_param("video_id")

SCHEMAS = {
    "CompatError": {
        "type": "object",
        "required": ["success", "message", "code"],
        "properties": {
            "success": {"const": False},
            "message": {"type": "string"},
            "code": {"type": "string"},
            "errors": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "OpenAIError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": ["string", "null"]},
                    "code": {"type": ["string", "null"]},
                },
            }
        },
    },
    "Task": {
        "type": "object",
        "properties": {
            "videoId": {"type": "string"},
            "status": {"enum": ["QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"]},
            "progress": {"type": "integer"},
            "videoUrl": {"type": ["string", "null"]},
            "thumbnailUrl": {"type": ["string", "null"]},
            "prompt": {"type": "string"},
            "model": {"type": "string"},
            "mediaType": {"enum": ["VIDEO", "IMAGE"]},
            "duration": {"type": ["integer", "null"]},
            "size": {"type": ["string", "null"]},
            "aspectRatio": {"type": ["string", "null"]},
            "error": {"type": ["object", "null"]},
            "createdAt": {"type": ["string", "null"]},
            "completedAt": {"type": ["string", "null"]},
            "metadata": {"type": "object"},
        },
    },
    "CreateTask": {
        "type": "object",
        "required": ["prompt", "model"],
        "properties": {
            "prompt": {"type": "string", "minLength": 1, "maxLength": 32000},
            "model": {"type": "string"},
            "size": {"type": "string"},
            "duration": {"type": "integer"},
            "watermark": {"type": "boolean"},
            "aspectRatio": {"enum": ["16:9", "9:16", "1:1"]},
            "referenceImage": {
                "type": "string",
                "description": "base64 data URL (PNG, JPEG or WebP, up to 10 MB)",
            },
            "apiConfigId": {"type": "integer", "description": "provider id"},
        },
    },
    "Video": {
        "type": "object",
        "required": ["id", "object", "status"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "video"},
            "model": {"type": "string"},
            "status": {"enum": ["queued", "in_progress", "completed", "failed"]},
            "progress": {"type": "integer"},
            "created_at": {"type": ["integer", "null"]},
            "completed_at": {"type": ["integer", "null"]},
            "expires_at": {"type": ["integer", "null"]},
            "prompt": {"type": ["string", "null"]},
            "remixed_from_video_id": {"type": ["string", "null"]},
            "seconds": {"type": ["string", "null"]},
            "size": {"type": ["string", "null"]},
            "error": {"type": ["object", "null"]},
        },
    },
    "GatewayQuery": {
        "type": "object",
        "properties": {
            "task_id": {"type": "string"},
            "video_id": {"type": "string"},
            "task_status": {"enum": ["processing", "success", "failed"]},
            "message": {"type": "string"},
            "duration": {"type": ["string", "null"]},
            "video_result": {"type": ["string", "null"]},
        },
    },
}

CREDENTIALS = _json(
    {
        "type": "object",
        "required": ["email", "password"],
        "properties": {"email": {"type": "string"}, "password": {"type": "string"}},
    }
)
TOKEN = {"type": "object", "properties": {"token": {"type": "string"}, "user": {"type": "object"}}}
IDEM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 255},
}


def document() -> dict:
    paths = {
        "/api/auth/register": {
            "post": _compat(
                "Create an account; returns an API token",
                TOKEN,
                body=CREDENTIALS,
                status="201",
                auth=False,
                errors=("422", "429"),
            )
        },
        "/api/auth/login": {
            "post": _compat(
                "Log in; returns an API token",
                TOKEN,
                body=CREDENTIALS,
                auth=False,
                errors=("401", "422", "429"),
            )
        },
        "/api/video/tasks": {
            "post": _compat(
                "Create a task (submitted at once)",
                TASK,
                body=_json(_ref("CreateTask")),
                params=[IDEM],
                status="201",
            ),
            "get": _compat(
                "List your tasks",
                {
                    "type": "object",
                    "properties": {
                        "tasks": {"type": "array", "items": TASK},
                        "total": {"type": "integer"},
                        "page": {"type": "integer"},
                        "pageSize": {"type": "integer"},
                    },
                },
                params=[
                    query("page", {"type": "integer", "minimum": 1}),
                    query("pageSize", {"type": "integer", "minimum": 1, "maximum": 100}),
                    query("status", {"type": "string"}),
                    query("mediaType", {"type": "string"}),
                    query("orderBy", {"enum": ["createdAt", "completedAt", "duration"]}),
                    query("order", {"enum": ["asc", "desc"]}),
                ],
            ),
        },
        "/api/video/tasks/{videoId}": {"get": _compat("One task", TASK, params=[VID])},
        "/api/video/tasks/{videoId}/content": {
            "get": _compat(
                "A signed link to the result",
                {
                    "type": "object",
                    "properties": {
                        "videoId": {"type": "string"},
                        "externalVideoId": {"type": ["string", "null"]},
                        "url": {"type": ["string", "null"]},
                    },
                },
                params=[VID],
            )
        },
        "/api/video/tasks/{videoId}/refresh-url": {
            "post": _compat(
                "Re-check the upstream now and return a fresh link",
                {"type": "object"},
                params=[VID],
                errors=("401", "404", "409", "429"),
            )
        },
        "/api/video/tasks/{videoId}/cancel": {
            "post": _compat(
                "Cancel a running task", TASK, params=[VID], errors=("401", "404", "409", "429")
            )
        },
        "/api/video/tasks/{videoId}/remix": {
            "post": _compat(
                "Remix a completed video",
                TASK,
                params=[VID, IDEM],
                status="201",
                body=_json(
                    {
                        "type": "object",
                        "properties": {"prompt": {"type": "string"}, "model": {"type": "string"}},
                    }
                ),
                errors=("401", "404", "409", "422", "429"),
            )
        },
        "/api/video/stats": {
            "get": _compat("Counts by status", {"type": "object"}, errors=("401", "429"))
        },
        "/api/video/mapping": {
            "post": _compat(
                "Track a job created upstream by the client",
                TASK,
                status="201",
                body=_json(
                    {
                        "type": "object",
                        "properties": {
                            "videoId": {"type": "string"},
                            "externalTaskId": {"type": "string"},
                            "apiConfigId": {"type": "integer"},
                            "model": {"type": "string"},
                            "prompt": {"type": "string"},
                        },
                    }
                ),
                errors=("401", "409", "422", "429"),
            )
        },
        "/api/relay/sora/videos": {
            "post": _compat(
                "Create from a multipart form (input_reference file)",
                {"type": "object"},
                status="201",
                params=[IDEM],
                body={
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "prompt": {"type": "string"},
                                    "model": {"type": "string"},
                                    "size": {"type": "string"},
                                    "seconds": {"type": "string"},
                                    "aspect_ratio": {"type": "string"},
                                    "input_reference": {"type": "string", "format": "binary"},
                                    "watermark": {"type": "string"},
                                    "hd": {"type": "string"},
                                    "private": {"type": "string"},
                                    "n": {"type": "string"},
                                },
                            }
                        }
                    }
                },
            )
        },
        "/api/relay/sora/videos/{videoId}": {
            "get": _compat("Owner-only status read", TASK, params=[VID])
        },
        "/v1/videos/query": {
            "post": {
                "summary": "Gateway-style status query",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "required": ["video_id"],
                            "properties": {"video_id": {"type": "string"}},
                        }
                    ),
                },
                "responses": {
                    "200": {"description": "OK", **_json(_ref("GatewayQuery"))},
                    "401": {"description": "Error", **_json(_ref("CompatError"))},
                    "404": {"description": "Error", **_json(_ref("CompatError"))},
                    "422": {"description": "Error", **_json(_ref("CompatError"))},
                    "429": {"description": "Error", **_json(_ref("CompatError"))},
                },
            }
        },
        "/v1/videos/query/{video_id}": {
            "get": {
                "summary": "Gateway-style status query",
                "security": BEARER,
                "parameters": [OVID],
                "responses": {
                    "200": {"description": "OK", **_json(_ref("GatewayQuery"))},
                    "401": {"description": "Error", **_json(_ref("CompatError"))},
                    "404": {"description": "Error", **_json(_ref("CompatError"))},
                    "429": {"description": "Error", **_json(_ref("CompatError"))},
                },
            }
        },
        "/v1/videos": {
            "post": _openai(
                "Create a video (JSON or multipart)",
                VIDEO,
                params=[IDEM],
                body={
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["prompt"],
                                "properties": {
                                    "prompt": {"type": "string"},
                                    "model": {"type": "string"},
                                    "seconds": {"type": "string"},
                                    "size": {"type": "string"},
                                    "input_reference": {
                                        "type": "object",
                                        "properties": {"image_url": {"type": "string"}},
                                    },
                                },
                            }
                        },
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "prompt": {"type": "string"},
                                    "model": {"type": "string"},
                                    "seconds": {"type": "string"},
                                    "size": {"type": "string"},
                                    "input_reference": {"type": "string", "format": "binary"},
                                },
                            }
                        },
                    }
                },
            ),
            "get": _openai(
                "List videos (cursor)",
                {
                    "type": "object",
                    "properties": {
                        "object": {"const": "list"},
                        "data": {"type": "array", "items": VIDEO},
                        "first_id": {"type": ["string", "null"]},
                        "last_id": {"type": ["string", "null"]},
                        "has_more": {"type": "boolean"},
                    },
                },
                params=[
                    query("after", {"type": "string"}),
                    query("limit", {"type": "integer", "minimum": 1, "maximum": 100}),
                    query("order", {"enum": ["asc", "desc"]}),
                ],
            ),
        },
        "/v1/videos/{video_id}": {
            "get": _openai("Retrieve a video", VIDEO, params=[OVID]),
            "delete": _openai(
                "Delete a video and its archived files",
                {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "object": {"const": "video.deleted"},
                        "deleted": {"type": "boolean"},
                    },
                },
                params=[OVID],
            ),
        },
        "/v1/videos/{video_id}/remix": {
            "post": _openai(
                "Remix a completed video",
                VIDEO,
                params=[OVID, IDEM],
                body=_json(
                    {
                        "type": "object",
                        "required": ["prompt"],
                        "properties": {"prompt": {"type": "string"}},
                    }
                ),
            )
        },
        "/v1/videos/{video_id}/content": {
            "get": _openai(
                "Download the video, thumbnail or sprite sheet",
                None,
                params=[OVID, query("variant", {"enum": ["video", "thumbnail", "spritesheet"]})],
                content={
                    "content": {
                        "video/mp4": {},
                        "image/webp": {},
                        "image/jpeg": {},
                        "image/png": {},
                    }
                },
            )
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Reelay API",
            "version": "1.0.0",
            "description": "Reelay's JSON API: the replaced backend's routes (/api, /v1/videos/query) and the OpenAI Videos API (/v1/videos).",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "security": BEARER,
        "paths": paths,
    }


@bp.get("/api/openapi.json")
def openapi_json():
    return jsonify(document())
