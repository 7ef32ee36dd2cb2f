"""Fan-out through Janus: avatard's rtp-janus preset → Debian's janus started by scripts/janus-fanout.sh → two aiortc
viewers that watch the mountpoint through Janus's HTTP API and WebRTC, each getting the session's picture and
sound."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import tomllib
import unittest
from pathlib import Path

import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

import webtest
from webtest import TOKEN, harness
from whep_viewer import dominant_frequency, http

import avatard_client as ac

REPO = webtest.REPO


def janus_available() -> bool:
    if shutil.which("janus"):
        return True
    if os.environ.get("AVATARD_REQUIRE_JANUS") == "1":
        raise RuntimeError("janus is not installed (scripts/setup.sh deps installs it)")
    return False


def preset_config(name: str, ports: dict[str, int]) -> str:
    """The shipped rtp-janus preset as an operator preset `name` aimed at `ports`."""
    shipped = tomllib.loads((REPO / "Pipelines/rtp-janus.toml").read_text())
    lines = [f"[output.presets.{name}]"]
    for key in ("mode", "description", "pipeline"):
        lines.append(f"{key} = {harness._toml_value(shipped[key])}")
    for option, spec in shipped["options"].items():
        spec = dict(spec)
        if option in ports:
            spec["default"] = ports[option]
        lines.append(f"[output.presets.{name}.options.{option}]")
        lines += [f"{k} = {harness._toml_value(v)}" for k, v in spec.items()]
    return "\n".join(lines) + "\n"


class JanusViewer:
    """Watches streaming mountpoint 1 through Janus's REST API (Janus offers, the viewer answers)."""

    def __init__(self, api: str):
        self.api = api
        self.pc = RTCPeerConnection()
        self.frames: list[tuple[float, int, int]] = []
        self.audio: list[np.ndarray] = []
        self.audio_rate = 48000
        self.tasks: list[asyncio.Task] = []

    async def call(self, path: str, body: dict) -> dict:
        body = dict(body, transaction=str(random.getrandbits(48)))
        status, _, data = await asyncio.to_thread(http, "POST", self.api + path, json.dumps(body).encode(),
                                                  {"Content-Type": "application/json"})
        reply = json.loads(data)
        if status != 200 or reply.get("janus") == "error":
            raise RuntimeError(f"janus {path}: {reply}")
        return reply

    async def event(self, session: int, timeout: float = 10) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, _, data = await asyncio.to_thread(http, "GET", f"{self.api}/{session}?maxev=1&rid={time.time()}")
            reply = json.loads(data)
            if reply.get("janus") == "event" and reply.get("jsep"):
                return reply
        raise RuntimeError("no offer from janus")

    async def watch(self) -> None:
        session = (await self.call("", {"janus": "create"}))["data"]["id"]
        handle = (await self.call(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.streaming"}))["data"]["id"]
        await self.call(f"/{session}/{handle}", {"janus": "message", "body": {"request": "watch", "id": 1}})
        offer = (await self.event(session))["jsep"]

        @self.pc.on("track")
        def on_track(track):
            self.tasks.append(asyncio.ensure_future(self.consume(track)))

        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.call(f"/{session}/{handle}", {"janus": "message", "body": {"request": "start"},
                                                 "jsep": {"type": "answer", "sdp": self.pc.localDescription.sdp}})
        self.session = session

    async def consume(self, track) -> None:
        try:
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    frame.to_ndarray(format="gray")          # decodable
                    self.frames.append((time.monotonic(), frame.width, frame.height))
                else:
                    self.audio_rate = frame.sample_rate
                    pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels)).astype(np.float32) / 32768
                    self.audio.append(pcm.mean(axis=1))
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await self.pc.close()


class JanusFanoutTests(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        if not janus_available():
            raise unittest.SkipTest("janus is not installed")
        http_port = harness.free_ports(1)[0]
        video_port, audio_port = harness.free_ports(2, kind=__import__("socket").SOCK_DGRAM)
        cls.config_dir = Path(tempfile.mkdtemp(prefix="avatard-janus-test-"))
        env = dict(os.environ, JANUS_HTTP_PORT=str(http_port), JANUS_VIDEO_PORT=str(video_port),
                   JANUS_AUDIO_PORT=str(audio_port), JANUS_CONFIG_DIR=str(cls.config_dir))
        cls.janus_log = open(cls.config_dir / "janus.log", "wb")
        cls.janus = subprocess.Popen([str(REPO / "scripts/janus-fanout.sh")], env=env, stdout=cls.janus_log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        cls.api = f"http://127.0.0.1:{http_port}/janus"
        deadline = time.monotonic() + 20
        while True:
            try:
                if http("GET", cls.api + "/info", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or cls.janus.poll() is not None:
                cls.tearDownClass()
                raise RuntimeError(f"janus did not come up:\n{(cls.config_dir / 'janus.log').read_text()[-3000:]}")
            time.sleep(0.2)
        cls.daemon = harness.Daemon(extra_config=preset_config("janus-test", {"video_port": video_port,
                                                                              "audio_port": audio_port}))

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "daemon", None):
            cls.daemon.stop()
        if cls.janus.poll() is None:
            os.killpg(cls.janus.pid, signal.SIGTERM)
            try:
                cls.janus.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(cls.janus.pid, signal.SIGKILL)
                cls.janus.wait()
        cls.janus_log.close()
        shutil.rmtree(cls.config_dir, ignore_errors=True)

    async def test_two_viewers_watch_one_session_through_janus(self):
        rate = 48000
        t = np.arange(rate * 7) / rate
        tone = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2").tobytes()
        async with await ac.connect(self.daemon.url, token=TOKEN, avatar="demo", output="janus-test", pace=True) as s:
            feeder = asyncio.ensure_future(s.send_pcm(tone, rate))
            await asyncio.sleep(1)                       # RTP is flowing into the mountpoint
            viewers = [JanusViewer(self.api), JanusViewer(self.api)]
            await asyncio.gather(*(v.watch() for v in viewers))
            await asyncio.sleep(4.5)
            counts = [len(v.frames) for v in viewers]
            await feeder
            await asyncio.gather(*(v.close() for v in viewers))
        for v, count in zip(viewers, counts):
            self.assertGreater(count, 40, f"frames through janus:\n{(self.config_dir / 'janus.log').read_text()[-2000:]}")
            self.assertEqual(v.frames[-1][1:], (256, 256))
            samples = np.concatenate(v.audio) if v.audio else np.zeros(0)
            self.assertAlmostEqual(dominant_frequency(samples, v.audio_rate), 440, delta=5)


if __name__ == "__main__":
    unittest.main()
