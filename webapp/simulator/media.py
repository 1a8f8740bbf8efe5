"""Real media for the simulator: a short H.264 MP4 showing the prompt, a WebP thumbnail,
a JPEG sprite sheet and PNG images. Rendered lazily and cached (bounded LRU)."""

from __future__ import annotations

import io
import os
import tempfile
import textwrap
import threading
from collections import OrderedDict
from fractions import Fraction

from PIL import Image, ImageDraw, ImageFont

FPS = 12
MAX_SECONDS = 4
LONG_SIDE = 640
_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()
_render_locks: dict = {}
CACHE_SIZE = 32


def dims(size: str | None) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in (size or "1280x720").lower().split("x"))
    except ValueError:
        w, h = 1280, 720
    scale = LONG_SIDE / max(w, h)
    return max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2)


def _font(px: int):
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # very old Pillow
        return ImageFont.load_default()


def frame(prompt: str, size: tuple[int, int], t: float, total: float) -> Image.Image:
    w, h = size
    hue = (hash(prompt) % 360) / 360
    import colorsys

    r, g, b = (int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.55, 0.35))
    img = Image.new("RGB", size, (r, g, b))
    d = ImageDraw.Draw(img)
    # a moving disc and a progress bar, so seeking visibly changes the picture
    x = int((w - 60) * (t / total)) + 30
    d.ellipse((x - 22, h // 2 - 22, x + 22, h // 2 + 22), fill=(250, 250, 255))
    d.rectangle((0, h - 8, int(w * t / total), h), fill=(129, 140, 248))
    font = _font(max(14, w // 28))
    lines = textwrap.wrap(prompt, width=max(16, w // max(9, w // 40)))[:4]
    y = 18
    for line in lines:
        d.text((18, y), line, fill=(255, 255, 255), font=font)
        y += int(font.size * 1.3) if hasattr(font, "size") else 18
    d.text(
        (18, h - 34),
        f"Reelay simulator  {t:0.1f}s",
        fill=(220, 220, 235),
        font=_font(max(12, w // 40)),
    )
    return img


def _render(prompt: str, size_s: str, seconds: int) -> dict:
    import av

    size = dims(size_s)
    total = float(min(max(seconds or MAX_SECONDS, 1), MAX_SECONDS))
    n = int(total * FPS)
    frames = [frame(prompt, size, i / FPS, total) for i in range(n)]
    fd, path = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        with av.open(path, "w", format="mp4", options={"movflags": "faststart"}) as out:
            stream = out.add_stream("libx264", rate=FPS)
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.options = {"preset": "ultrafast", "crf": "28"}
            stream.codec_context.time_base = Fraction(1, FPS)
            for img in frames:
                for packet in stream.encode(av.VideoFrame.from_image(img)):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        with open(path, "rb") as f:
            video = f.read()
    finally:
        os.unlink(path)
    thumb = io.BytesIO()
    frames[len(frames) // 2].save(thumb, "WEBP", quality=80)
    cols, rows = 4, 2
    tw, th = size[0] // 4, size[1] // 4
    sheet = Image.new("RGB", (tw * cols, th * rows))
    for i in range(cols * rows):
        sheet.paste(
            frames[min(len(frames) - 1, i * len(frames) // (cols * rows))].resize((tw, th)),
            ((i % cols) * tw, (i // cols) * th),
        )
    sprite = io.BytesIO()
    sheet.save(sprite, "JPEG", quality=80)
    return {"video": video, "thumbnail": thumb.getvalue(), "spritesheet": sprite.getvalue()}


def _key(prompt: str, size: str, seconds: int) -> tuple:
    return (prompt, size, min(seconds or MAX_SECONDS, MAX_SECONDS))


def peek(prompt: str, size: str, seconds: int) -> dict | None:
    """Cached assets or None; never renders."""
    with _lock:
        return _cache.get(_key(prompt, size, seconds))


def video_assets(prompt: str, size: str, seconds: int) -> dict:
    """{"video": mp4, "thumbnail": webp, "spritesheet": jpeg}, rendered once per key."""
    key = _key(prompt, size, seconds)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        render_lock = _render_locks.setdefault(key, threading.Lock())
    with render_lock:
        with _lock:
            if key in _cache:
                return _cache[key]
        assets = _render(*key)
        with _lock:
            _cache[key] = assets
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
            _render_locks.pop(key, None)
        return assets


def image_png(prompt: str, size: str = "1024x1024") -> bytes:
    img = frame(prompt, dims(size), 0.0, 1.0)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


CONTENT_TYPES = {
    "video": "video/mp4",
    "thumbnail": "image/webp",
    "spritesheet": "image/jpeg",
    "image": "image/png",
}
