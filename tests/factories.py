"""Rows straight into the database, for page and API tests that need no upstream."""

from __future__ import annotations

import itertools
from datetime import timedelta

from webapp.domain import statuses as st
from webapp.extensions import db
from webapp.models import Provider, TaskEvent, VideoTask
from webapp.models.base import utcnow
from webapp.services import tasks

_seq = itertools.count(1)


def provider(app, **kw) -> int:
    with app.app_context():
        p = Provider(
            name=kw.pop("name", f"Gateway {next(_seq)}"),
            kind=kw.pop("kind", "openai"),
            base_url=kw.pop("base_url", "http://127.0.0.1:9"),
            path_prefix="/v1",
            auth_style="bearer",
            key_env=kw.pop("key_env", None),
            model_map=kw.pop(
                "model_map",
                {"sora_video2": {"upstream": "sora-2", "size": "1280x720", "seconds": 8}},
            ),
            sizes=["1280x720", "720x1280"],
            seconds_options=[4, 8],
            extra_options=[],
            settings={},
            price_per_second=0.1,
            **kw,
        )
        db.session.add(p)
        db.session.commit()
        return p.id


def task(
    app, user_id, provider_id=None, status=st.COMPLETED, prompt=None, minutes_ago=0, **kw
) -> str:
    with app.app_context():
        now = utcnow() - timedelta(minutes=minutes_ago)
        t = VideoTask(
            video_id=tasks.new_video_id(),
            user_id=user_id,
            provider_id=provider_id,
            model=kw.pop("model", "sora_video2"),
            upstream_model="sora-2",
            prompt=prompt or f"prompt number {next(_seq)}",
            size="1280x720",
            aspect_ratio="16:9",
            seconds=8,
            status=status,
            progress=100 if status == st.COMPLETED else kw.pop("progress", 40),
            external_task_id=kw.pop("external_task_id", f"video_up_{next(_seq)}"),
            created_at=now,
            completed_at=now + timedelta(seconds=kw.pop("took", 60))
            if status in st.TERMINAL
            else None,
            next_poll_at=None if status in st.TERMINAL else now + timedelta(hours=1),
            upstream_data=kw.pop("upstream_data", {}),
            archive=kw.pop("archive", {}),
            options={},
            **kw,
        )
        db.session.add(t)
        db.session.flush()
        db.session.add(TaskEvent(task_id=t.id, kind="status", to_status=status, message="seeded"))
        db.session.commit()
        return t.video_id
