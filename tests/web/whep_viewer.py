"""A WHEP viewer built on aiortc (an independent WebRTC implementation): POSTs a recvonly offer to avatard, plays
the answer, and records every decoded video frame (arrival time, size, the demo mouth's opening) and the decoded
audio, so tests can check what a viewer really received."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request

import numpy as np
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

MOUTH = (slice(135, 175), slice(100, 160))   # rows, columns of the demo head's mouth at 256 × 256
DARK = 60                                      # luma below this is the inside of an open mouth


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 15):
    """(status, headers, body) of one request; HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class WhepViewer:
    def __init__(self, base: str, session_id: str, token: str | None, *, video_only: bool = False):
        self.base = base
        self.session_id = session_id
        self.token = token
        self.video_only = video_only
        self.pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.location: str | None = None
        self.frames: list[tuple[float, int, int, float]] = []   # (arrival, width, height, dark fraction in the mouth box)
        self.audio: list[np.ndarray] = []
        self.audio_rate = 48000
        self.joined_at = 0.0
        self._tasks: list[asyncio.Task] = []

    def headers(self) -> dict:
        h = {"Content-Type": "application/sdp"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    async def join(self) -> None:
        self.pc.addTransceiver("video", direction="recvonly")
        if not self.video_only:
            self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def on_track(track):
            self._tasks.append(asyncio.ensure_future(self._consume(track)))

        await self.pc.setLocalDescription(await self.pc.createOffer())   # aiortc gathers before returning
        self.joined_at = time.monotonic()
        status, headers, body = await asyncio.to_thread(
            http, "POST", f"{self.base}/v1/sessions/{self.session_id}/whep", self.pc.localDescription.sdp.encode(),
            self.headers())
        if status != 201:
            raise RuntimeError(f"WHEP answered {status}: {body.decode(errors='replace').strip()}")
        self.location = headers.get("Location")
        if not self.location or not headers.get("Content-Type", "").startswith("application/sdp"):
            raise RuntimeError(f"WHEP 201 without Location or SDP: {headers}")
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=body.decode(), type="answer"))

    async def _consume(self, track) -> None:
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                if track.kind == "video":
                    gray = frame.to_ndarray(format="gray")
                    mouth = gray[MOUTH] if gray.shape == (256, 256) else gray
                    self.frames.append((now, frame.width, frame.height, float((mouth < DARK).mean())))
                else:
                    self.audio_rate = frame.sample_rate
                    pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels)).astype(np.float32) / 32768
                    self.audio.append(pcm.mean(axis=1))
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def leave(self, delete: bool = True) -> int | None:
        status = None
        if delete and self.location:
            h = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            status, _, _ = await asyncio.to_thread(http, "DELETE", self.base + self.location, None, h)
        for t in self._tasks:
            t.cancel()
        await self.pc.close()
        return status

    def audio_samples(self) -> np.ndarray:
        return np.concatenate(self.audio) if self.audio else np.zeros(0, np.float32)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """Frequency of the strongest component (Hann window) of the loudest second."""
    if len(samples) < rate:
        return 0.0
    energies = [float(np.mean(samples[i:i + rate] ** 2)) for i in range(0, len(samples) - rate + 1, rate // 2)]
    start = int(np.argmax(energies)) * (rate // 2)
    chunk = samples[start:start + rate] * np.hanning(rate)
    spectrum = np.abs(np.fft.rfft(chunk))
    spectrum[:20] = 0
    return float(np.argmax(spectrum) * rate / len(chunk))
