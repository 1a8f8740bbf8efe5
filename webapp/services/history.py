"""The history list: filters, search, sort and pagination that stay fast at a million
rows (index-backed ordering, a bounded count instead of a full-table count)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

from sqlalchemy import and_, event, func, or_, select

from ..domain import statuses as st
from ..domain.spreadsheet import cell
from ..domain.task_facts import TaskFacts
from ..extensions import db
from ..models import Provider, User, VideoTask
from .remembered import Remembered

PAGE_SIZE = 20
COUNT_CAP = 10_000
LOOKAHEAD_PAGES = 9
# Past this many rows, a page is found by its ids first (see ``_page_select``).
DEEP_OFFSET = 200
SORTS = {"created": "created", "completed": "completed", "duration": "duration"}


@dataclass
class Query:
    page: int = 1
    page_size: int = PAGE_SIZE
    status: str | None = None
    media_type: str | None = None
    model: str | None = None
    provider_id: int | None = None
    user_id: int | None = None  # admin "all tasks" filter
    owner: str | None = None  # admin: the owner's e-mail (exact, any case)
    q: str | None = None
    sort: str = "created"
    order: str = "desc"
    view: str = "list"  # "list" | "grid" (the gallery)

    def args(self, **override) -> dict:
        data = {
            "page": self.page,
            "status": self.status,
            "media_type": self.media_type,
            "model": self.model,
            "provider": self.provider_id,
            "q": self.q,
            "sort": self.sort if self.sort != "created" else None,
            "order": self.order if self.order != "desc" else None,
            "user": self.user_id,
            "owner": self.owner,
            "view": self.view if self.view != "list" else None,
        }
        data.update(override)
        # Empty filters stay out of the URL, and so does page 1; a filter whose value
        # is 1 (the first provider, the first user) is a filter like any other.
        return {
            k: v for k, v in data.items() if v not in (None, "") and not (k == "page" and v == 1)
        }


@dataclass
class Page:
    items: list
    page: int
    page_size: int
    total: int
    capped: bool
    query: Query
    pages: list = field(default_factory=list)

    @property
    def last_page(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.last_page or (self.capped and len(self.items) == self.page_size)


def _int(value, default=None, lo=None, hi=None):
    try:
        v = int(value)
    except (TypeError, ValueError):
        return default
    if lo is not None and v < lo:
        return default
    if hi is not None and v > hi:
        return hi
    return v


MAX_ID = 2**31 - 1


def record_id(value) -> int | None:
    """A row id from a query string: a positive integer that fits the column, else None
    (a filter that cannot match anything is no filter, not a database error)."""
    v = _int(value, None, lo=1)
    return v if v is not None and v <= MAX_ID else None


def parse_query(args, page_size: int = PAGE_SIZE) -> Query:
    status = (args.get("status") or "").upper() or None
    media = (args.get("media_type") or args.get("mediaType") or "").upper() or None
    sort = args.get("sort") or "created"
    order = (args.get("order") or "desc").lower()
    return Query(
        page=_int(args.get("page"), 1, lo=1, hi=1_000_000),
        page_size=page_size,
        status=status if status in st.ALL else None,
        media_type=media if media in st.MEDIA_TYPES else None,
        model=(args.get("model") or "")[:100] or None,
        provider_id=record_id(args.get("provider")),
        user_id=record_id(args.get("user")),
        owner=(args.get("owner") or "").strip().lower()[:255] or None,
        q=(args.get("q") or "").strip()[:200] or None,
        sort=sort if sort in SORTS else "created",
        order=order if order in ("asc", "desc") else "desc",
        view="grid" if args.get("view") == "grid" else "list",
    )


def _filtered(user: User | None, q: Query):
    stmt = select(VideoTask)
    if user is not None:
        stmt = stmt.where(VideoTask.user_id == user.id)
    else:
        if q.user_id:
            stmt = stmt.where(VideoTask.user_id == q.user_id)
        if q.owner:
            owner = select(User.id).where(func.lower(User.email) == q.owner).scalar_subquery()
            stmt = stmt.where(VideoTask.user_id == owner)
    if q.status:
        stmt = stmt.where(VideoTask.status == q.status)
    if q.media_type:
        stmt = stmt.where(VideoTask.media_type == q.media_type)
    if q.model:
        stmt = stmt.where(VideoTask.model == q.model)
    if q.provider_id:
        stmt = stmt.where(VideoTask.provider_id == q.provider_id)
    if q.q:
        escaped = q.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        found = VideoTask.prompt.ilike(f"%{escaped}%", escape="\\")
        if " " not in q.q:  # it may be an id: Reelay's or the upstream's, exactly
            found = or_(found, VideoTask.video_id == q.q, VideoTask.external_task_id == q.q)
        stmt = stmt.where(found)
    return stmt


def _ordered(stmt, q: Query, nulls_last: bool = False):
    desc = q.order == "desc"
    if q.sort == "completed":
        cols = [VideoTask.completed_at, VideoTask.id]
    elif q.sort == "duration":
        if db.engine.dialect.name == "sqlite":
            expr = func.julianday(VideoTask.completed_at) - func.julianday(VideoTask.created_at)
        else:
            expr = VideoTask.completed_at - VideoTask.created_at
        cols = [expr, VideoTask.id]
    else:
        cols = [VideoTask.created_at, VideoTask.id]
    ordered = [c.desc() if desc else c.asc() for c in cols]
    if nulls_last and q.sort != "created":
        ordered[0] = ordered[0].nulls_last()
    return stmt.order_by(*ordered)


def page_for(
    user: User | None, q: Query, count_cap: int = COUNT_CAP, lookahead: int | None = LOOKAHEAD_PAGES
) -> Page:
    """The pages' view: ``user=None`` means every user's tasks (admin); ``total`` is
    exact up to a few pages past the current one, then marked ``capped`` ("200+"); a
    page past the end shows the last page; sorting by completion lists finished tasks."""
    base = _filtered(user, q)
    if q.sort in ("completed", "duration"):
        base = base.where(VideoTask.completed_at.is_not(None))
    # Count only as far as the pager needs to look ahead: never a full count. The count
    # rides along with the page's rows (one round trip); only an empty page past the
    # first counts on its own, to fall back to the last page.
    cap = count_cap if lookahead is None else min((q.page + lookahead) * q.page_size, count_cap)
    counted = select(func.count()).select_from(
        base.with_only_columns(VideoTask.id).limit(cap + 1).subquery()
    )
    shown = [] if user is not None else [_OWNER_EMAIL]  # the admin list shows owners
    rows = _rows(base, q, *shown, counted.scalar_subquery().label("total"))
    if rows or q.page == 1:
        total = rows[0].total if rows else 0
    else:
        total = db.session.scalar(counted) or 0
    capped = total > cap
    total = min(total, cap)
    last = max(1, math.ceil(total / q.page_size))
    if not rows and q.page > last and not capped:
        q.page = last
        rows = _rows(base, q, *shown)
    return _paged([ListedTask(r) for r in rows], q, total, capped)


class ListedTask(TaskFacts):
    """One task as a list row, a gallery tile and the admin's owner column show it:
    plain columns, no ORM object per row (a page of them costs a fraction of the
    loading), and nothing else (a template that starts to need more fails its tests
    with a LookupError instead of rendering an empty value)."""

    COLUMNS = (
        "id", "video_id", "user_id", "prompt", "model", "media_type", "status",
        "progress", "archive", "size", "aspect_ratio", "created_at", "completed_at",
    )  # fmt: skip
    __slots__ = (*COLUMNS, "owner_email")

    def __init__(self, row) -> None:
        for name, value in zip(self.COLUMNS, row, strict=False):
            setattr(self, name, value)
        self.owner_email = row.owner_email if "owner_email" in row._fields else None

    def __getattr__(self, name: str):
        # Only for names a row does not carry. Jinja turns an AttributeError into an
        # empty Undefined, so a template asking for more must fail loudly instead.
        if name.startswith("__"):
            raise AttributeError(name)
        raise LookupError(f"a history row does not load {name!r}: add it to ListedTask")

    def __repr__(self) -> str:
        return f"<ListedTask {self.video_id} {self.status}>"


_LISTED = tuple(getattr(VideoTask, name) for name in ListedTask.COLUMNS)
_OWNER_EMAIL = (
    select(User.email).where(User.id == VideoTask.user_id).scalar_subquery().label("owner_email")
)


def _rows(base, q: Query, *extra) -> list:
    """One page of the pages' list: the listed columns, then each of ``extra``."""
    return db.session.execute(_page_select(base, q, (*_LISTED, *extra))).all()


def _page_select(base, q: Query, columns: tuple, nulls_last: bool = False):
    """The page's statement. A deep page (page 500 is OFFSET 9,980) first picks its 20
    ids: ordering by (created_at, id) within a user, an index-only scan skips the offset
    without reading a single skipped row; then only those 20 rows are read. Shallow
    pages read their rows straight away (one join less)."""
    offset = (q.page - 1) * q.page_size
    ordered = _ordered(base, q, nulls_last)
    if offset < DEEP_OFFSET:
        return ordered.with_only_columns(*columns).offset(offset).limit(q.page_size)
    ids = ordered.with_only_columns(VideoTask.id).offset(offset).limit(q.page_size).subquery()
    return _ordered(select(*columns).join(ids, ids.c.id == VideoTask.id), q, nulls_last)


def api_page_for(user: User, q: Query) -> Page:
    """The JSON list's contract: an exact total, every task whatever the sort (unfinished
    ones last when sorting by completion), and a page past the end is empty, so a client
    paging until it gets no tasks stops."""
    base = _filtered(user, q)
    total = (
        db.session.scalar(
            select(func.count()).select_from(base.with_only_columns(VideoTask.id).subquery())
        )
        or 0
    )
    return _page(base, q, total, False, nulls_last=True)


def _page(base, q: Query, total: int, capped: bool, nulls_last: bool = False) -> Page:
    items = list(db.session.scalars(_page_select(base, q, (VideoTask,), nulls_last)))
    return _paged(items, q, total, capped)


def _paged(items: list, q: Query, total: int, capped: bool) -> Page:
    page = Page(
        items=items, page=q.page, page_size=q.page_size, total=total, capped=capped, query=q
    )
    page.pages = _window(q.page, page.last_page)
    return page


def _window(current: int, last: int, width: int = 2) -> list[int | None]:
    """1 … 4 5 [6] 7 8 … 50 (None marks a gap)."""
    pages = {1, last, *range(max(1, current - width), min(last, current + width) + 1)}
    out: list[int | None] = []
    prev = 0
    for p in sorted(pages):
        if p - prev > 1:
            out.append(None)
        out.append(p)
        prev = p
    return out


CSV_ROWS = 10_000


def csv_rows(user: User | None, q: Query):
    """The filtered history as CSV lines (header first), at most CSV_ROWS tasks."""
    out = io.StringIO()
    w = csv.writer(out)
    header = [
        "video_id",
        "upstream_id",
        "status",
        "model",
        "provider",
        "prompt",
        "size",
        "seconds",
        "created_at",
        "completed_at",
        "cost",
        "error_code",
    ]
    if user is None:
        header.insert(1, "owner")
    w.writerow(header)
    yield out.getvalue()
    names = dict(db.session.execute(select(Provider.id, Provider.name)).all())
    owners = dict(db.session.execute(select(User.id, User.email)).all()) if user is None else {}
    rows = db.session.scalars(_ordered(_filtered(user, q), q).limit(CSV_ROWS))
    for t in rows:
        out.seek(0)
        out.truncate()
        line = [
            t.video_id,
            t.external_task_id or "",
            t.status,
            t.model,
            names.get(t.provider_id, ""),
            cell(t.prompt),
            t.size or "",
            t.seconds or "",
            t.created_at.isoformat(),
            t.completed_at.isoformat() if t.completed_at else "",
            f"{t.cost:.4f}" if t.cost is not None else "",
            t.error_code or "",
        ]
        if user is None:
            line.insert(1, cell(owners.get(t.user_id, "")))
        w.writerow(line)
        yield out.getvalue()


def recent(user: User, limit: int = 5) -> list[VideoTask]:
    return list(
        db.session.scalars(
            select(VideoTask)
            .where(VideoTask.user_id == user.id)
            .order_by(VideoTask.created_at.desc(), VideoTask.id.desc())
            .limit(limit)
        )
    )


def remixes_of(task: VideoTask) -> list[VideoTask]:
    return list(
        db.session.scalars(
            select(VideoTask)
            .where(VideoTask.remix_of_id == task.id, VideoTask.user_id == task.user_id)
            .order_by(VideoTask.id)
        )
    )


# Built once: every list page runs it, and a prebuilt statement skips SQLAlchemy's
# per-call cache-key work; rows, not Provider objects (only id, name and models show).
_FILTER_PROVIDERS = select(Provider.id, Provider.name, Provider.model_map).order_by(
    Provider.priority, Provider.id
)
# Providers change when an admin edits one, yet every history and stats page lists them:
# each process remembers the list for a few seconds (its own edits are seen at once;
# another process's within FILTER_PROVIDERS_TTL), instead of a query per page.
FILTER_PROVIDERS_TTL = 10.0
_filter_providers = Remembered()


def filter_choices(user: User | None) -> dict:
    """Models and providers to offer in the filter bar (from configuration, not a scan)."""
    providers = _providers_for_filters()
    models = sorted({m for p in providers for m in (p.model_map or {})})
    return {
        "statuses": st.ALL,
        "media_types": st.MEDIA_TYPES,
        "models": models,
        "providers": providers,
    }


def _providers_for_filters() -> list:
    return _filter_providers.get(
        db.engine,  # one list per database (tests build several apps in one process)
        FILTER_PROVIDERS_TTL,
        lambda: db.session.execute(_FILTER_PROVIDERS).all(),
    )


forget_filters = _filter_providers.forget
for _change in ("after_insert", "after_update", "after_delete"):
    event.listen(Provider, _change, forget_filters)


def video_page(user: User, after: str | None, limit: int, order: str) -> tuple[list, bool]:
    """The OpenAI list: the user's videos (never images) in creation order, a cursor
    page after the video ``after``; returns (tasks, has_more). An unknown cursor is a
    LookupError."""
    stmt = select(VideoTask).where(VideoTask.user_id == user.id, VideoTask.media_type == st.VIDEO)
    if after:
        cursor = db.session.scalar(
            select(VideoTask).where(VideoTask.video_id == after, VideoTask.user_id == user.id)
        )
        if cursor is None:
            raise LookupError(after)
        older = or_(
            VideoTask.created_at < cursor.created_at,
            and_(VideoTask.created_at == cursor.created_at, VideoTask.id < cursor.id),
        )
        newer = or_(
            VideoTask.created_at > cursor.created_at,
            and_(VideoTask.created_at == cursor.created_at, VideoTask.id > cursor.id),
        )
        stmt = stmt.where(older if order == "desc" else newer)
    cols = (
        (VideoTask.created_at.desc(), VideoTask.id.desc())
        if order == "desc"
        else (VideoTask.created_at, VideoTask.id)
    )
    rows = list(db.session.scalars(stmt.order_by(*cols).limit(limit + 1)))
    return rows[:limit], len(rows) > limit
