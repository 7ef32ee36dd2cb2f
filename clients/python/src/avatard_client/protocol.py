"""Protocol v1 on the wire: the 16-byte audio header and the server's messages as typed events."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

MAGIC = 0x41
VERSION = 1
HEADER = struct.Struct(">BBHIQ")
HEADER_SIZE = HEADER.size  # 16
#: A binary frame is at most 4 KiB including the header.
MAX_BINARY_FRAME = 4096
#: A text frame is at most 64 KiB.
MAX_TEXT_FRAME = 64 * 1024
SUBPROTOCOL = "avatard.v1"


def audio_frame(seq: int, ts: int, packet: bytes) -> bytes:
    """Header (magic, version, flags 0, seq mod 2^32, ts in 48 kHz samples) followed by one Opus packet."""
    if not 1 <= len(packet) <= 1275:
        raise ValueError(f"an Opus packet has 1..1275 bytes, got {len(packet)}")
    if not 0 <= ts < 1 << 64:
        raise ValueError(f"ts {ts} is not a u64")
    return HEADER.pack(MAGIC, VERSION, 0, seq & 0xFFFFFFFF, ts) + bytes(packet)


def parse_audio_frame(frame: bytes) -> tuple[int, int, bytes]:
    """(seq, ts, packet) of a binary frame; ValueError if the header is not protocol v1's."""
    if len(frame) <= HEADER_SIZE:
        raise ValueError(f"binary frame of {len(frame)} bytes has no packet after the 16-byte header")
    magic, version, flags, seq, ts = HEADER.unpack_from(frame)
    if (magic, version, flags) != (MAGIC, VERSION, 0):
        raise ValueError(f"bad header: magic {magic:#x}, version {version}, flags {flags}")
    return seq, ts, frame[HEADER_SIZE:]


def session_start(avatar: str, output: str, *, style: str | None = None,
                  output_options: dict[str, Any] | None = None) -> str:
    message: dict[str, Any] = {"type": "session.start", "avatar": avatar, "output": output,
                               "audio": {"codec": "opus", "sample_rate": 48000, "channels": 1}}
    if style is not None:
        message["style"] = style
    if output_options:
        message["output_options"] = dict(output_options)
    text = json.dumps(message, separators=(",", ":"))
    if len(text.encode()) > MAX_TEXT_FRAME:
        raise ValueError("session.start is over the protocol's 64 KiB text-frame limit")
    return text


def control(kind: str) -> str:
    return json.dumps({"type": kind})


@dataclass(frozen=True)
class Event:
    """A message from the server; ``raw`` is its JSON object."""

    raw: dict = field(repr=False, compare=False)


@dataclass(frozen=True)
class Ready(Event):
    session_id: str
    width: int
    height: int
    fps: int
    output: str
    latency_ms: int


@dataclass(frozen=True)
class Stats(Event):
    buffered_ms: float
    frames_rendered: int
    frames_dropped: int
    packets_lost: int
    latency_ms_p50: float
    latency_ms_p95: float


@dataclass(frozen=True)
class Interrupted(Event):
    #: Client timestamp (48 kHz samples) up to which audio was rendered.
    last_rendered_ts: int


@dataclass(frozen=True)
class Ended(Event):
    frames: int
    duration_ms: float
    frames_dropped: int
    packets_lost: int


@dataclass(frozen=True)
class ErrorEvent(Event):
    code: str
    message: str


@dataclass(frozen=True)
class UnknownEvent(Event):
    """A message type this client does not know (kept for forward compatibility)."""

    type: str


def parse_event(text: str) -> Event:
    """A server text frame as an Event; ValueError when it is not a JSON object with a type."""
    try:
        m = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"server sent text that is not JSON: {text[:80]!r}") from error
    if not isinstance(m, dict) or not isinstance(m.get("type"), str):
        raise ValueError(f"server message without a type: {text[:80]!r}")
    t = m["type"]
    try:
        if t == "session.ready":
            v = m.get("video", {})
            return Ready(m, m["session_id"], int(v["width"]), int(v["height"]), int(v["fps"]),
                         m.get("output", ""), int(m.get("latency_ms", 0)))
        if t == "stats":
            return Stats(m, float(m.get("buffered_ms", 0)), int(m.get("frames_rendered", 0)),
                         int(m.get("frames_dropped", 0)), int(m.get("packets_lost", 0)),
                         float(m.get("latency_ms_p50", 0)), float(m.get("latency_ms_p95", 0)))
        if t == "input.interrupted":
            return Interrupted(m, int(m["last_rendered_ts"]))
        if t == "session.ended":
            return Ended(m, int(m.get("frames", 0)), float(m.get("duration_ms", 0)),
                         int(m.get("frames_dropped", 0)), int(m.get("packets_lost", 0)))
        if t == "error":
            return ErrorEvent(m, str(m.get("code", "")), str(m.get("message", "")))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"malformed {t} message: {text[:200]!r} ({error})") from error
    return UnknownEvent(m, t)
