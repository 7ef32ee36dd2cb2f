"""WHEP against the real daemon with aiortc viewers: late joiners get decodable video within a second, each
session's viewers get only that session, leaving viewers disturb nothing, and bad requests get clear HTTP errors
while the daemon and other sessions carry on."""

from __future__ import annotations

import asyncio
import re
import time
import unittest

import numpy as np

import webtest  # noqa: F401  (puts the client's test harness on the path)
from webtest import TOKEN, harness
from whep_viewer import WhepViewer, dominant_frequency, http

import avatard_client as ac


def tone(freq: float, seconds: float, rate: int = 48000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2").tobytes()


class WHEPTests(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = harness.Daemon(extra_limits="max_viewers_per_session = 2", max_sessions=3)
        cls.base = f"http://127.0.0.1:{cls.daemon.port}"

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    async def asyncTearDown(self):
        await asyncio.to_thread(self.daemon.wait_no_sessions, 20)

    async def session(self, output: str = "webrtc") -> ac.Session:
        return await ac.connect(self.daemon.url, token=TOKEN, avatar="demo", output=output, pace=True)

    def post(self, path: str, body: bytes, content_type: str = "application/sdp", token: str | None = TOKEN):
        headers = {"Content-Type": content_type}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return http("POST", self.base + path, body, headers)

    async def wait_frames(self, viewer: WhepViewer, count: int, timeout: float) -> float:
        """Seconds from the viewer's join to its `count`-th decoded frame."""
        deadline = time.monotonic() + timeout
        while len(viewer.frames) < count:
            if time.monotonic() > deadline:
                self.fail(f"{len(viewer.frames)} frames after {timeout} s\n{self.daemon.log_tail()}")
            await asyncio.sleep(0.02)
        return viewer.frames[count - 1][0] - viewer.joined_at

    async def test_late_viewer_gets_picture_within_a_second_and_leaving_disturbs_nothing(self):
        async with await self.session() as s:
            feeder = asyncio.ensure_future(s.send_pcm(tone(440, 6), 48000))
            first = WhepViewer(self.base, s.session_id, TOKEN)
            await first.join()
            await self.wait_frames(first, 25, 5)
            await asyncio.sleep(1.5)                       # mid-session: the encoder's last key frame is long gone
            late = WhepViewer(self.base, s.session_id, TOKEN)
            await late.join()
            to_first = await self.wait_frames(late, 1, 3)
            self.assertLess(to_first, 1.0, "a late viewer waits for the next key frame")
            self.assertEqual(late.frames[0][1:3], (256, 256))
            await self.wait_frames(late, 20, 3)
            # The first viewer leaves; the late one and the session go on.
            self.assertEqual(await first.leave(), 200)
            count = len(late.frames)
            await asyncio.sleep(1.0)
            self.assertGreaterEqual(len(late.frames) - count, 20, "the remaining viewer stalled")
            status, _, _ = http("DELETE", self.base + first.location, None, {"Authorization": f"Bearer {TOKEN}"})
            self.assertEqual(status, 404, "a deleted viewer is gone")
            await feeder
            stats = s.stats
            await late.leave()
        # The session ran to its normal end; frames repeated for lateness stay rare (they come from CPU load on
        # small machines: aiortc decodes in this process, next to the daemon's renderer and encoder).
        self.assertIsNotNone(s.ended)
        self.assertLess(s.ended.frames_dropped, s.ended.frames // 10, self.daemon.log_tail())
        self.assertIsNotNone(stats)
        audio = late.audio_samples()
        self.assertAlmostEqual(dominant_frequency(audio, late.audio_rate), 440, delta=5)

    async def test_two_sessions_viewers_get_only_their_own(self):
        # Session b uses the VP8 preset: both WebRTC presets play through the same WHEP path.
        async with await self.session() as a, await self.session("webrtc-vp8") as b:
            feeders = [asyncio.ensure_future(a.send_pcm(tone(440, 5), 48000)),
                       asyncio.ensure_future(b.send_pcm(tone(880, 5), 48000))]
            va = WhepViewer(self.base, a.session_id, TOKEN)
            vb = WhepViewer(self.base, b.session_id, TOKEN)
            await asyncio.gather(va.join(), vb.join())
            await asyncio.sleep(4)
            await asyncio.gather(*feeders)
            await asyncio.gather(va.leave(), vb.leave())
        for viewer, freq in ((va, 440), (vb, 880)):
            self.assertGreater(len(viewer.frames), 50)
            self.assertAlmostEqual(dominant_frequency(viewer.audio_samples(), viewer.audio_rate), freq, delta=5)

    async def test_bad_requests_get_clear_errors_and_change_nothing(self):
        async with await self.session() as s:
            feeder = asyncio.ensure_future(s.send_pcm(tone(440, 5), 48000))
            watcher = WhepViewer(self.base, s.session_id, TOKEN)
            await watcher.join()
            await self.wait_frames(watcher, 10, 5)
            path = f"/v1/sessions/{s.session_id}/whep"
            good = WhepViewer(self.base, s.session_id, TOKEN)
            good.pc.addTransceiver("video", direction="recvonly")
            good.pc.addTransceiver("audio", direction="recvonly")
            await good.pc.setLocalDescription(await good.pc.createOffer())
            offer = good.pc.localDescription.sdp
            vp9_only = "\r\n".join(line for line in offer.split("\r\n")
                                   if not any(c in line for c in ("H264", "VP8", "a=fmtp:", "rtx")))
            vp9_only = vp9_only.replace("m=video 9 UDP/TLS/RTP/SAVPF", "m=video 9 UDP/TLS/RTP/SAVPF 127 #")
            no_mid = "\r\n".join(line for line in offer.split("\r\n") if not line.startswith("a=mid:"))
            cases = [
                ("not SDP", self.post(path, b"hello, I am not an offer"), 400, "SDP"),
                ("binary", self.post(path, bytes(range(256)) * 4), 400, ""),
                ("JSON", self.post(path, b'{"sdp": "v=0"}', "application/json"), 415, "application/sdp"),
                ("no token", self.post(path, offer.encode(), token=None), 401, "token"),
                ("wrong token", self.post(path, offer.encode(), token="nope"), 401, "token"),
                ("no usable codec", self.post(path, vp9_only.encode()), 406, "H.264"),
                ("no a=mid", self.post(path, no_mid.encode()), 400, "mid"),
                ("unknown session", self.post("/v1/sessions/0123-not-a-session/whep", offer.encode()), 404, "no WebRTC session"),
                ("too large", self.post(path, b"v=0\r\n" + b"a=x\r\n" * 20000), 413, ""),
                ("GET", http("GET", self.base + path), 405, ""),
                ("unknown viewer", http("DELETE", self.base + path + "/nobody", None,
                                        {"Authorization": f"Bearer {TOKEN}"}), 404, "viewer"),
                ("trickle", http("PATCH", self.base + path + "/x", b"a=candidate", {"Authorization": f"Bearer {TOKEN}"}),
                 405, "trickle"),
            ]
            for name, (status, _, body), want, text in cases:
                with self.subTest(name):
                    self.assertEqual(status, want, body)
                    self.assertIn(text, body.decode(errors="replace"))
            # A session with an RTP or file output has no WebRTC viewers.
            async with await self.session("file-mp4") as f:
                status, _, body = self.post(f"/v1/sessions/{f.session_id}/whep", offer.encode())
                self.assertEqual(status, 404, body)
            # Nothing above disturbed the session or its viewer; a proper offer still works.
            count = len(watcher.frames)
            await asyncio.sleep(1)
            self.assertGreaterEqual(len(watcher.frames) - count, 20)
            await good.pc.close()
            await feeder
            await watcher.leave()
            finished_id = s.session_id
        self.assertIsNotNone(s.ended)
        self.assertLess(s.ended.frames_dropped, s.ended.frames // 10, self.daemon.log_tail())
        # The session has finished: its WHEP endpoint says so.
        status, _, body = self.post(f"/v1/sessions/{finished_id}/whep", offer.encode())
        self.assertEqual(status, 404)
        self.assertIn(b"finished", body)
        self.assertEqual(self.daemon.admin("/readyz")[0], 200)

    async def test_odd_offers_never_hurt_the_daemon(self):
        """Offers that pass avatard's checks but bend what webrtcbin sees (duplicate mids, bundle groups naming
        nothing, DTLS roles, garbage attributes): every answer is 201 or a 4xx, and the daemon, the session and its
        viewer carry on."""
        async with await self.session() as s:
            feeder = asyncio.ensure_future(s.send_pcm(tone(440, 12), 48000))
            watcher = WhepViewer(self.base, s.session_id, TOKEN)
            await watcher.join()
            probe = WhepViewer(self.base, s.session_id, TOKEN)
            probe.pc.addTransceiver("video", direction="recvonly")
            probe.pc.addTransceiver("audio", direction="recvonly")
            await probe.pc.setLocalDescription(await probe.pc.createOffer())
            lines = probe.pc.localDescription.sdp.split("\r\n")
            await probe.pc.close()

            def sub(pattern: str, replacement: str) -> str:
                return "\r\n".join(re.sub(pattern, replacement, line) for line in lines)

            def drop(prefix: str) -> str:
                return "\r\n".join(line for line in lines if not line.startswith(prefix))

            def add(*extra: str) -> str:
                return "\r\n".join(lines[:-1] + list(extra) + [""])

            variants = {
                "duplicate mid": sub(r"^a=mid:1$", "a=mid:0"),
                "bundle names nothing": sub(r"^a=group:BUNDLE.*", "a=group:BUNDLE 7 8"),
                "setup holdconn": sub(r"^a=setup:.*", "a=setup:holdconn"),
                "setup garbage": sub(r"^a=setup:.*", "a=setup:xyz"),
                "no setup": drop("a=setup"),
                "fingerprint garbage": sub(r"^a=fingerprint:.*", "a=fingerprint:sha-256 zz"),
                "no bundle": drop("a=group:BUNDLE"),
                "empty ice-ufrag": sub(r"^a=ice-ufrag:.*", "a=ice-ufrag:"),
                "candidate garbage": add("a=candidate:garbage"),
                "ssrc garbage": add("a=ssrc:abc cname:x", "a=ssrc-group:FID 1"),
                "rtcp-fb and extmap garbage": add("a=rtcp-fb:* nack pli x", "a=extmap:999 urn:x"),
                "clock rate 0": sub(r"H264/90000", "H264/0"),
                "connection garbage": sub(r"^c=.*", "c=IN IP4 not-an-ip"),
                "origin cut short": sub(r"^o=.*", "o=-"),
            }
            path = f"/v1/sessions/{s.session_id}/whep"
            for name, offer in variants.items():
                with self.subTest(name):
                    status, headers, body = await asyncio.to_thread(self.post, path, offer.encode())
                    self.assertIn(status, (201, 400, 406), body)
                    if status == 201:
                        self.assertEqual(http("DELETE", self.base + headers["Location"], None,
                                              {"Authorization": f"Bearer {TOKEN}"})[0], 200)
                    self.assertEqual(self.daemon.admin("/livez")[0], 200, self.daemon.log_tail())
            count = len(watcher.frames)
            await asyncio.sleep(1)
            self.assertGreaterEqual(len(watcher.frames) - count, 20, "the session's viewer stalled")
            feeder.cancel()
            await watcher.leave()

    async def test_a_vanished_viewer_is_removed(self):
        """A viewer that goes away without DELETE (a closed tab) is removed once it has sent nothing for 15 s;
        the other viewer keeps receiving."""
        def viewers() -> float:
            metrics = self.daemon.admin("/metrics")[1]
            return float(next(line.split()[-1] for line in metrics.splitlines()
                              if line.startswith("avatard_webrtc_viewers")))

        async with await self.session() as s:
            feeder = asyncio.ensure_future(s.send_pcm(tone(440, 30), 48000))
            stays, vanishes = WhepViewer(self.base, s.session_id, TOKEN), WhepViewer(self.base, s.session_id, TOKEN)
            await stays.join()
            await vanishes.join()
            await self.wait_frames(vanishes, 10, 5)
            self.assertEqual(viewers(), 2)
            await vanishes.leave(delete=False)
            gone = time.monotonic()
            while viewers() != 1:
                self.assertLess(time.monotonic() - gone, 25, self.daemon.log_tail())
                await asyncio.sleep(0.5)
            self.assertGreater(time.monotonic() - gone, 5, "removed while it might only have been quiet")
            status, _, _ = http("DELETE", self.base + vanishes.location, None, {"Authorization": f"Bearer {TOKEN}"})
            self.assertEqual(status, 404)
            count = len(stays.frames)
            await asyncio.sleep(1)
            self.assertGreaterEqual(len(stays.frames) - count, 20)
            feeder.cancel()
            await stays.leave()

    async def test_viewer_limit(self):
        async with await self.session() as s:
            feeder = asyncio.ensure_future(s.send_pcm(tone(440, 3), 48000))
            viewers = [WhepViewer(self.base, s.session_id, TOKEN) for _ in range(3)]
            await viewers[0].join()
            await viewers[1].join()
            with self.assertRaisesRegex(RuntimeError, "503.*maximum of 2 viewers"):
                await viewers[2].join()
            await feeder
            for v in viewers:
                await v.leave()


if __name__ == "__main__":
    unittest.main()
