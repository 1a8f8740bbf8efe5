"""Assertions shared by the simulator tests (imported by plain name: this folder is on
sys.path because it has no __init__.py)."""

from __future__ import annotations

import io

import av
from PIL import Image

KEY = "test-sim-key"


def assert_mp4(data: bytes) -> None:
    """A real, browser-friendly MP4: H.264 yuv420p, positive duration, moov before mdat."""
    assert data[4:8] == b"ftyp"
    assert 0 < data.find(b"moov") < data.find(b"mdat"), "moov atom must be at the front"
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert container.duration and container.duration > 0
        frame = next(container.decode(video=0))
        assert frame.width > 0 and frame.height > 0


def image_format(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.format
