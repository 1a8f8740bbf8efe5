"""Content archive: local and S3 stores, streaming writes, HTTP Range serving."""

from __future__ import annotations

import itertools
import os
import tracemalloc
from collections.abc import Iterator

import pytest
from flask import Flask, request

from webapp.storage import LocalStore, S3Store, StoredObject, build_store, serve, serve_stream
from webapp.storage import s3 as s3mod

KiB = 1024
MiB = 1024 * KiB
CHUNK = 64 * KiB
DATA = os.urandom(200 * KiB + 123)  # odd size so ranges do not line up with chunks
KEY = "tasks/vid_1/video.mp4"


def pieces(data: bytes, size: int = CHUNK) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def read_all(store, key: str, start: int = 0, end: int | None = None) -> bytes:
    chunks, close = store.open(key, start, end)
    try:
        return b"".join(chunks)
    finally:
        close()


class Boom(RuntimeError):
    pass


def failing(data: bytes, fail_after: int) -> Iterator[bytes]:
    for i, chunk in enumerate(pieces(data)):
        if i * CHUNK >= fail_after:
            raise Boom("upstream dropped")
        yield chunk


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path) -> LocalStore:
    return LocalStore(tmp_path / "archive")


@pytest.fixture(scope="module")
def s3_client():
    """One moto mock and one boto3 client per module: starting either costs ~0.5 s."""
    moto = pytest.importorskip("moto", reason="moto[s3] not installed: pip install 'moto[s3]'")
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with moto.mock_aws():
            import boto3

            yield boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def bucket(s3_client) -> str:
    """A fresh, empty bucket per test."""
    name = f"reelay-test-{next(_buckets)}"
    s3_client.create_bucket(Bucket=name)
    return name


_buckets = itertools.count()


@pytest.fixture
def s3(s3_client, bucket) -> S3Store:
    return S3Store(bucket, client=s3_client, part_size=5 * MiB)


@pytest.fixture(params=["local", "s3"])
def store(request):
    return request.getfixturevalue(request.param)


class CountingStore:
    """Wraps a store to count how often serve() releases what it opened."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.opened = 0
        self.closed = 0

    def stat(self, key):
        return self.inner.stat(key)

    def open(self, key, start=0, end=None):
        chunks, close = self.inner.open(key, start, end)
        self.opened += 1

        def counted_close():
            self.closed += 1
            close()

        return chunks, counted_close


@pytest.fixture
def client_for():
    def make(store):
        app = Flask(__name__)

        @app.get("/files/<path:key>")
        def files(key):
            return serve(
                store,
                key,
                request=request,
                download_name=request.args.get("dl"),
                max_age=int(request.args.get("max_age", 0)),
            )

        return app.test_client()

    return make


@pytest.fixture
def client(store, client_for):
    store.put_stream(KEY, pieces(DATA), "video/mp4")
    return client_for(store)


# --- store behaviour (both backends) -------------------------------------------------------


def test_roundtrip_multichunk(store):
    data = os.urandom(3 * MiB)
    obj = store.put_stream(KEY, pieces(data), "video/mp4")
    assert isinstance(obj, StoredObject)
    assert (obj.key, obj.size, obj.content_type) == (KEY, len(data), "video/mp4")
    assert obj.etag and store.stat(KEY) == obj
    assert store.exists(KEY)
    assert read_all(store, KEY) == data
    assert read_all(store, KEY, 10, 99) == data[10:100]
    assert read_all(store, KEY, len(data) - 5) == data[-5:]
    chunks, close = store.open(KEY)
    assert all(len(c) <= CHUNK for c in chunks)
    close()
    store.delete(KEY)
    assert not store.exists(KEY) and store.stat(KEY) is None
    store.delete(KEY)  # idempotent
    with pytest.raises(FileNotFoundError):
        store.open(KEY)


def test_overwrite_changes_etag(store):
    first = store.put_stream(KEY, [b"one"], "video/mp4")
    second = store.put_stream(KEY, [b"second"], "video/mp4")
    assert first.etag != second.etag and second.size == 6
    assert read_all(store, KEY) == b"second"


@pytest.mark.parametrize(
    "key",
    [
        "../escape.mp4",
        "/etc/passwd",
        "tasks/../../etc/passwd",
        "tasks/..",
        "a..b",
        "a//b",
        "./a",
        "a/./b",
        "a/",
        "a b",
        "a\\b",
        "é.mp4",
        "",
        "x" * 1025,
    ],
)
def test_unsafe_keys_refused(store, key):
    for call in (
        lambda: store.put_stream(key, [b"x"], "text/plain"),
        lambda: store.stat(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: store.open(key),
    ):
        with pytest.raises(ValueError):
            call()


def test_open_rejects_bad_range(store):
    store.put_stream(KEY, [b"abc"], "video/mp4")
    for start, end in ((-1, None), (2, 1)):
        with pytest.raises(ValueError):
            store.open(KEY, start, end)


# --- local specifics --------------------------------------------------------------------------


def test_local_failed_write_leaves_nothing(local):
    with pytest.raises(Boom):
        local.put_stream(KEY, failing(DATA, 100 * KiB), "video/mp4")
    assert not local.exists(KEY)
    folder = local.root / "tasks" / "vid_1"
    assert list(folder.iterdir()) == []  # no temp file left behind


def test_local_failed_overwrite_keeps_previous(local):
    local.put_stream(KEY, [b"old video"], "video/mp4")
    with pytest.raises(Boom):
        local.put_stream(KEY, failing(DATA, 100 * KiB), "video/mp4")
    assert read_all(local, KEY) == b"old video"
    assert [p.name for p in (local.root / "tasks" / "vid_1").iterdir()] == ["video.mp4"]


def test_local_symlink_escape_refused(local, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(b"secret")
    local.root.mkdir(parents=True)
    (local.root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError):
        local.open("link/secret.mp4")


def test_local_content_type_from_extension(local):
    local.put_stream("t/thumb.webp", [b"x"], "image/webp")
    assert local.stat("t/thumb.webp").content_type == "image/webp"


def test_local_put_stream_memory_is_bounded(local):
    """50 MiB through put_stream must never be held in memory."""
    chunk = os.urandom(CHUNK)
    count = 50 * MiB // CHUNK

    def source() -> Iterator[bytes]:
        for _ in range(count):
            yield chunk

    tracemalloc.start()
    try:
        obj = local.put_stream("big/video.mp4", source(), "video/mp4")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert obj.size == 50 * MiB
    assert peak < 8 * MiB, f"peak traced memory {peak / MiB:.1f} MiB"


# --- S3 specifics ------------------------------------------------------------------------


def test_s3_put_stream_is_streamed_multipart(s3_client, bucket, monkeypatch):
    """Parts go out while the source is still producing, and reads are part-sized."""
    part = 5 * MiB
    store = S3Store(bucket, client=s3_client, part_size=part, max_concurrency=1)
    data = os.urandom(20 * MiB + 7)
    produced = 0
    produced_at_first_part: list[int] = []
    read_sizes: list[int | None] = []
    readers: list[s3mod.ChunkReader] = []

    def source() -> Iterator[bytes]:
        nonlocal produced
        for piece in pieces(data):
            produced += len(piece)
            yield piece

    def on_upload_part(**_):
        if not produced_at_first_part:
            produced_at_first_part.append(produced)

    real_read = s3mod.ChunkReader.read

    def spy_read(self, size=-1):
        if self not in readers:
            readers.append(self)
        read_sizes.append(size)
        return real_read(self, size)

    monkeypatch.setattr(s3mod.ChunkReader, "read", spy_read)
    handler_id = "test-first-part"
    s3_client.meta.events.register(
        "before-parameter-build.s3.UploadPart", on_upload_part, unique_id=handler_id
    )
    try:
        obj = store.put_stream(KEY, source(), "video/mp4")
    finally:
        s3_client.meta.events.unregister(
            "before-parameter-build.s3.UploadPart", unique_id=handler_id
        )

    assert obj.size == len(data) and obj.content_type == "video/mp4"
    assert obj.etag.endswith("-5")  # S3's multipart ETag: <md5 of md5s>-<part count>
    # The first part was sent after ~2 parts were read, far from the whole 20 MiB.
    assert produced_at_first_part and produced_at_first_part[0] <= 2 * part + CHUNK
    assert read_sizes and all(isinstance(n, int) and 0 < n <= part for n in read_sizes)
    assert readers[0].peak_buffered <= part + CHUNK
    assert read_all(store, KEY) == data


def test_s3_failed_upload_leaves_nothing(s3):
    with pytest.raises(Boom):
        s3.put_stream(KEY, failing(os.urandom(12 * MiB), 6 * MiB), "video/mp4")
    assert not s3.exists(KEY)
    uploads = s3.client.list_multipart_uploads(Bucket=s3.bucket)
    assert not uploads.get("Uploads")


def test_s3_prefix_and_metadata(s3):
    s3.put_stream("refs/a.png", [b"png"], "image/png")
    listed = s3.client.list_objects_v2(Bucket=s3.bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["reelay/refs/a.png"]
    head = s3.client.head_object(Bucket=s3.bucket, Key="reelay/refs/a.png")
    assert head["ContentType"] == "image/png"


def test_chunk_reader_returns_full_parts():
    reader = s3mod.ChunkReader(iter([b"ab", b"", b"cde", b"f"]))
    assert reader.read(4) == b"abcd"
    assert reader.read(4) == b"ef"
    assert reader.read(4) == b""
    assert reader.bytes_read == 6


# --- build_store --------------------------------------------------------------------------


def test_build_store(tmp_path, s3_client, bucket):
    local = build_store({"ARCHIVE_DIR": str(tmp_path)})
    assert isinstance(local, LocalStore) and local.root == tmp_path.resolve()
    remote = build_store({"ARCHIVE_BACKEND": "s3", "S3_BUCKET": bucket, "S3_REGION": "us-east-1"})
    assert isinstance(remote, S3Store) and remote.prefix == "reelay/"
    assert "testing" not in repr(remote)
    bare = build_store({"ARCHIVE_BACKEND": "S3", "S3_BUCKET": bucket, "S3_PREFIX": "media"})
    assert bare.prefix == "media/"
    with pytest.raises(ValueError):
        build_store({"ARCHIVE_BACKEND": "s3"})
    with pytest.raises(ValueError):
        build_store({"ARCHIVE_BACKEND": "ftp"})


# --- serve(): HTTP semantics (both backends) ------------------------------------------------

SIZE = len(DATA)


def test_serve_full(client):
    resp = client.get(f"/files/{KEY}")
    assert resp.status_code == 200
    assert resp.data == DATA
    assert resp.headers["Content-Length"] == str(SIZE)
    assert resp.headers["Accept-Ranges"] == "bytes"
    assert resp.headers["Content-Type"] == "video/mp4"
    assert resp.headers["ETag"].startswith('"')
    assert "Content-Disposition" not in resp.headers
    assert "no-cache" in resp.headers["Cache-Control"]


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("bytes=0-99", 0, 99),  # first bytes
        ("bytes=70000-140000", 70000, 140000),  # middle, across chunk boundaries
        ("bytes=-500", SIZE - 500, SIZE - 1),  # suffix
        (f"bytes={SIZE - 10}-", SIZE - 10, SIZE - 1),  # open-ended
        (f"bytes={SIZE - 5}-{SIZE + 100}", SIZE - 5, SIZE - 1),  # end clamped
        (f"bytes=-{SIZE * 2}", 0, SIZE - 1),  # suffix longer than the file
        (f"bytes={SIZE - 1}-{SIZE - 1}", SIZE - 1, SIZE - 1),  # last byte
    ],
)
def test_serve_ranges(client, spec, start, end):
    resp = client.get(f"/files/{KEY}", headers={"Range": spec})
    assert resp.status_code == 206
    assert resp.headers["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert resp.headers["Content-Length"] == str(end - start + 1)
    assert resp.data == DATA[start : end + 1]


@pytest.mark.parametrize("spec", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}"])
def test_serve_unsatisfiable(client, spec):
    resp = client.get(f"/files/{KEY}", headers={"Range": spec})
    assert resp.status_code == 416
    assert resp.headers["Content-Range"] == f"bytes */{SIZE}"
    assert resp.data == b""


@pytest.mark.parametrize("spec", ["bytes=0-9,20-29", "bytes=abc", "items=0-9", "bytes=9-1"])
def test_serve_multi_or_malformed_range_is_whole_file(client, spec):
    resp = client.get(f"/files/{KEY}", headers={"Range": spec})
    assert resp.status_code == 200
    assert resp.data == DATA


def test_serve_head(client):
    resp = client.head(f"/files/{KEY}")
    assert resp.status_code == 200
    assert resp.headers["Content-Length"] == str(SIZE)
    assert resp.data == b""
    ranged = client.head(f"/files/{KEY}", headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.headers["Content-Length"] == "10"


def test_serve_etag_revalidation(client):
    etag = client.get(f"/files/{KEY}").headers["ETag"]
    resp = client.get(f"/files/{KEY}", headers={"If-None-Match": etag})
    assert resp.status_code == 304 and resp.data == b""
    assert resp.headers["ETag"] == etag
    assert client.get(f"/files/{KEY}", headers={"If-None-Match": '"other"'}).status_code == 200


def test_serve_if_range(client):
    etag = client.get(f"/files/{KEY}").headers["ETag"]
    match = client.get(f"/files/{KEY}", headers={"Range": "bytes=0-9", "If-Range": etag})
    assert match.status_code == 206 and match.data == DATA[:10]
    stale = client.get(f"/files/{KEY}", headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.data == DATA
    weak = client.get(f"/files/{KEY}", headers={"Range": "bytes=0-9", "If-Range": "W/" + etag})
    assert weak.status_code == 200


def test_serve_download_name(client):
    resp = client.get(f"/files/{KEY}?dl=vid_1-video.mp4&max_age=3600")
    assert resp.headers["Content-Disposition"] == "attachment; filename=vid_1-video.mp4"
    assert "private" in resp.headers["Cache-Control"]
    assert "max-age=3600" in resp.headers["Cache-Control"]
    quoted = client.get(f"/files/{KEY}", query_string={"dl": 'a "b".mp4'})
    assert quoted.headers["Content-Disposition"] == 'attachment; filename="a \\"b\\".mp4"'
    uni = client.get(f"/files/{KEY}", query_string={"dl": "café.mp4"})
    disposition = uni.headers["Content-Disposition"]
    assert "filename=cafe.mp4" in disposition and "filename*=UTF-8''caf%C3%A9.mp4" in disposition


def test_serve_missing_is_404(client):
    assert client.get("/files/tasks/none/video.mp4").status_code == 404


def test_serve_releases_store_handle(store, client_for):
    store.put_stream(KEY, pieces(DATA), "video/mp4")
    counting = CountingStore(store)
    client = client_for(counting)
    resp = client.get(f"/files/{KEY}", headers={"Range": "bytes=0-99"}, buffered=False)
    assert counting.opened == 1 and counting.closed == 0  # streamed, not read eagerly
    resp.close()  # the WSGI server closes the body, e.g. the player seeked away
    assert counting.closed == 1
    full = client.get(f"/files/{KEY}")
    assert full.data == DATA and counting.closed == 2
    client.head(f"/files/{KEY}")
    assert counting.opened == 2  # HEAD never opens the object


def test_serve_empty_object(local, client_for):
    local.put_stream("empty.mp4", [], "video/mp4")
    client = client_for(local)
    resp = client.get("/files/empty.mp4")
    assert resp.status_code == 200 and resp.data == b""
    assert resp.headers["Content-Length"] == "0"
    assert client.get("/files/empty.mp4", headers={"Range": "bytes=0-"}).status_code == 416


# --- serve_stream() -------------------------------------------------------------------------


def test_serve_stream():
    app = Flask(__name__)
    closed: list[int] = []

    @app.route("/relay", methods=["GET"])
    def relay():
        return serve_stream(
            pieces(DATA), "video/mp4", SIZE, request=request, close=lambda: closed.append(1)
        )

    client = app.test_client()
    resp = client.get("/relay", headers={"Range": "bytes=0-9"})
    assert resp.status_code == 200 and resp.data == DATA
    assert resp.headers["Accept-Ranges"] == "none"
    assert resp.headers["Content-Length"] == str(SIZE)
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Security-Policy"] == "sandbox"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    resp.close()
    assert closed == [1]
    head = client.head("/relay")
    assert head.data == b"" and head.headers["Content-Length"] == str(SIZE)
    head.close()
    assert closed == [1, 1]


def test_upstream_content_type_is_only_trusted_for_media():
    """An upstream answering text/html (or SVG) for a video must not get it served as a
    document from Reelay's origin; real media types pass through."""
    from webapp.services.archive import safe_type

    assert safe_type("video", "video/webm; codecs=vp9") == "video/webm"
    assert safe_type("video", "text/html") == "video/mp4"
    assert safe_type("video", None) == "video/mp4"
    assert safe_type("thumbnail", "image/svg+xml") == "image/webp"
    assert safe_type("thumbnail", "image/jpeg") == "image/jpeg"
    assert safe_type("image", "application/javascript") == "image/png"
    assert safe_type("spritesheet", "video/mp4") == "image/jpeg"
