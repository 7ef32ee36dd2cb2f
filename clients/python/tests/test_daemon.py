"""The client against the real avatard binary (demo avatar, file outputs, a token) on loopback."""

import asyncio
import json
import time
import unittest

import numpy as np

import avatard_client as ac
from avatard_client.audio import to_float_mono
from avatard_client.resample import Resampler

import harness as support

DAEMON: "harness.Daemon | None" = None


SINK: "support.UdpSink | None" = None


def setUpModule():
    global DAEMON, SINK, STYLE
    SINK = support.UdpSink()
    DAEMON = support.Daemon(extra_config=support.rtp_preset(LIVE, SINK.ports))
    try:
        STYLE = _demo_style()
    except BaseException:
        tearDownModule()        # unittest skips tearDownModule when setUpModule fails
        raise


def tearDownModule():
    if DAEMON is not None:
        DAEMON.stop()
    if SINK is not None:
        SINK.close()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


async def stream(session, pcm, rate, chunk_seconds=0.1):
    step = int(rate * chunk_seconds) * (2 if isinstance(pcm, bytes) else 1)   # int16 bytes: 2 per sample
    for i in range(0, len(pcm), step):
        await session.send_pcm(pcm[i:i + step], rate)


class FileOutputTests(unittest.TestCase):
    def test_pcm_in_mp4_out_with_all_the_audio(self):
        pcm, rate = support.speech("The quick brown fox jumps over the lazy dog, and then it rests for a while.")
        self.assertEqual(rate, 22050)   # resampled to 48 kHz by the client

        async def go():
            session = await ac.connect(DAEMON.url, token=TOKEN, avatar="demo", output="file-mp4",
                                       output_options={"speed": "ultrafast"})
            events = []
            session.add_listener(events.append)
            await stream(session, pcm.tobytes(), rate)
            packets = session.next_seq + 1          # the partial last packet goes out with close()
            ended = await session.close()
            return session, ended, packets, events

        session, ended, packets, events = run(go())
        self.assertEqual(session.ready.width, 256)
        self.assertEqual(session.next_seq, packets)
        self.assertEqual(session.next_ts, packets * 960)
        self.assertEqual(session.close_code, 1000)
        self.assertEqual(ended.frames, -(-packets * 20 // 40))
        self.assertEqual(ended.packets_lost, 0)
        self.assertIsInstance(events[-1], ac.Ended)

        path = DAEMON.file(session.session_id, "mp4")
        info = support.discover(path)
        self.assertIn("opus", info["text"].lower())
        self.assertIn("h.264", info["text"].lower())
        self.assertAlmostEqual(info["duration"], packets * 0.02, delta=0.045)
        frames = support.decode_video(path, 256, 256)
        self.assertEqual(len(frames), ended.frames)

        # The file's audio is the speech: same length (whole packets) and the same waveform.
        audio = support.decode_audio(path)
        self.assertAlmostEqual(len(audio) / 48000, packets * 0.02, delta=0.025)
        r = Resampler(rate)
        sent = np.concatenate([r.process(to_float_mono(pcm)), r.flush()])
        best = max(range(-480, 481, 4), key=lambda lag: self._corr(audio, sent, lag))
        self.assertGreater(self._corr(audio, sent, best), 0.9, f"lag {best}")
        self.assertLessEqual(abs(best), 480)    # within 10 ms (Opus's own look-ahead is 6.5 ms)

    @staticmethod
    def _corr(a, b, lag):
        if lag >= 0:
            a, b = a[lag:], b
        else:
            a, b = a, b[-lag:]
        n = min(len(a), len(b))
        return float(np.corrcoef(a[:n], b[:n])[0, 1])

    def test_float_pcm_query_token_style_options_and_pacing(self):
        t = np.arange(16000) / 16000
        tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)   # 1 s at 16 kHz, a native Opus rate

        async def go():
            session = await ac.connect(DAEMON.url, token=TOKEN, token_in_query=True, avatar="demo",
                                       style=STYLE, output="file-mkv", output_options={"bitrate_kbps": 300},
                                       pace=True)
            start = time.monotonic()
            await stream(session, tone, 16000, chunk_seconds=0.02)
            elapsed = time.monotonic() - start
            return session, await session.close(), elapsed

        session, ended, elapsed = run(go())
        self.assertEqual(ended.frames, 25)
        # Paced: 50 packets leave at their timestamps, the last one 0.98 s after the first.
        self.assertGreater(elapsed, 0.9)
        self.assertAlmostEqual(support.discover(DAEMON.file(session.session_id, "mkv"))["duration"], 1.0, delta=0.045)

    def test_ready_opus_packets(self):
        enc = ac.OpusEncoder(48000)
        t = np.arange(48000) / 48000
        pcm = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
        packets = [enc.encode(pcm[i:i + 960]) for i in range(0, 48000, 960)]

        async def go():
            async with await ac.connect(DAEMON.url, token=TOKEN, avatar="demo", output="file-mkv") as session:
                for p in packets:
                    await session.send_opus(p)
            return session

        session = run(go())
        self.assertEqual(session.ended.frames, 25)
        self.assertEqual(session.next_ts, 48000)


class InterruptTests(unittest.TestCase):
    def test_interrupt_drops_the_rest_and_audio_continues_after_it(self):
        pcm, rate = support.speech("We keep talking and talking, on and on, about many many things for a long time.")
        self.assertGreater(len(pcm) / rate, 3.0)

        async def go():
            # A live preset is paced to the wall clock, so 1 s after the speech went in most of it is still
            # unrendered when the interrupt arrives.
            session = await ac.connect(DAEMON.url, token=TOKEN, avatar="demo", output=LIVE)
            stats = []
            session.add_listener(lambda e: stats.append(e) if isinstance(e, ac.Stats) else None)
            await stream(session, pcm, rate)
            sent_ts = session.next_ts
            await asyncio.sleep(1.2)
            interrupted = await session.interrupt()
            await session.send_pcm(np.zeros(8000, np.float32), 16000)       # 0.5 s of silence after it
            ended = await session.close()
            return interrupted, sent_ts, ended, stats

        interrupted, sent_ts, ended, stats = run(go())
        self.assertIsInstance(interrupted, ac.Interrupted)
        self.assertGreater(interrupted.last_rendered_ts, 0)
        self.assertLess(interrupted.last_rendered_ts, sent_ts - 48000)     # ≥ 1 s of speech was dropped
        self.assertGreater(len(stats), 0)                                  # stats every second
        self.assertLess(ended.frames * 40, sent_ts / 48 - 1000)


class ErrorTests(unittest.TestCase):
    def test_unknown_avatar_style_output_and_unsupported_option(self):
        cases = [(dict(avatar="nobody", output="file-mp4"), ac.UnknownAvatar, 4005, "unknown_avatar"),
                 (dict(avatar="demo", style="no-such-style", output="file-mp4"), ac.UnknownAvatar, 4005, "unknown_avatar"),
                 (dict(avatar="demo", output="no-such-output"), ac.UnknownOutput, 4006, "unknown_output"),
                 (dict(avatar="demo", output="file-mp4", output_options={"location": "/tmp/x"}), ac.Unsupported, 4001, "unsupported")]
        for kwargs, cls, code, name in cases:
            with self.subTest(**{k: str(v) for k, v in kwargs.items()}):
                with self.assertRaises(cls) as caught:
                    run(ac.connect(DAEMON.url, token=TOKEN, **kwargs))
                self.assertEqual((caught.exception.code, caught.exception.name), (code, name))
                self.assertTrue(caught.exception.message)

    def test_bad_or_missing_token_is_401(self):
        for kwargs in (dict(token="wrong"), dict(token="wrong", token_in_query=True), dict()):
            with self.subTest(**kwargs):
                with self.assertRaises(ac.AuthenticationError) as caught:
                    run(ac.connect(DAEMON.url, avatar="demo", output="file-mp4", **kwargs))
                self.assertEqual(caught.exception.status, 401)

    def test_unreachable_daemon(self):
        port = support.free_ports(1)[0]
        with self.assertRaises(ac.ConnectError):
            run(ac.connect(f"ws://127.0.0.1:{port}/v1/session", avatar="demo", output="file-mp4"))

    def test_protocol_violation_mid_session_surfaces_everywhere(self):
        async def go():
            session = await ac.connect(DAEMON.url, token=TOKEN, avatar="demo", output="file-mkv")
            await session.send_pcm(np.zeros(1600, np.float32), 16000)
            await session._ws.send(json.dumps({"type": "no.such.message"}))     # what a broken client sends
            seen = []
            with self.assertRaises(ac.ProtocolViolation) as from_events:
                async for event in session.events():
                    seen.append(event)
            with self.assertRaises(ac.ProtocolViolation):
                await session.send_pcm(np.zeros(1600, np.float32), 16000)
            with self.assertRaises(ac.ProtocolViolation):
                await session.close()
            return from_events.exception, seen, session

        error, seen, session = run(go())
        self.assertEqual((error.code, error.name), (4000, "protocol"))
        self.assertIsInstance(seen[-1], ac.ErrorEvent)
        self.assertEqual(session.close_code, 4000)
        # The daemon is unaffected.
        self.assertEqual(DAEMON.admin("/livez")[0], 200)


class LimitTests(unittest.TestCase):
    """A daemon of its own: one session at most, 1.5 s idle timeout."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = support.Daemon(max_sessions=1, idle_timeout=1.5)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def setUp(self):
        self.daemon.wait_no_sessions()

    def connect(self, **kwargs):
        return ac.connect(self.daemon.url, token=TOKEN, avatar="demo", output="file-mkv", **kwargs)

    def test_capacity(self):
        async def go():
            first = await self.connect()
            try:
                with self.assertRaises(ac.CapacityReached) as caught:
                    await self.connect()
            finally:
                await first.close()
            return caught.exception

        error = run(go())
        self.assertEqual((error.code, error.name), (4002, "capacity"))

    def test_idle_timeout_and_keepalive(self):
        async def go():
            quiet = await self.connect(keepalive_interval=None)
            with self.assertRaises(ac.IdleTimeout) as caught:
                await quiet.wait_closed(timeout=10)
            self.assertEqual((caught.exception.code, quiet.close_code), (4003, 4003))
            await asyncio.to_thread(self.daemon.wait_no_sessions)
            # The client's keepalive (here every 0.5 s) holds a silent session open past the timeout.
            kept = await self.connect(keepalive_interval=0.5)
            await asyncio.sleep(3.0)
            await kept.send_pcm(np.zeros(16000, np.float32), 16000)
            return await kept.close()

        self.assertEqual(run(go()).frames, 25)


class ShutdownTests(unittest.TestCase):
    def test_sigterm_is_going_away_with_a_finished_file(self):
        daemon = support.Daemon()
        try:
            async def go():
                session = await ac.connect(daemon.url, token=TOKEN, avatar="demo", output="file-mp4")
                await session.send_pcm(np.zeros(32000, np.float32), 16000)
                daemon.process.terminate()      # SIGTERM: drain, finalize outputs, close 1001
                with self.assertRaises(ac.GoingAway) as caught:
                    await session.wait_closed(timeout=30)
                return session, caught.exception

            session, error = run(go())
            self.assertEqual((error.code, error.name, session.close_code), (1001, "going_away", 1001))
            self.assertAlmostEqual(support.discover(daemon.file(session.session_id))["duration"], 2.0, delta=0.045)
        finally:
            daemon.stop()


class ExampleTests(unittest.TestCase):
    def test_speak_wav_example(self):
        import subprocess, sys, tempfile
        from pathlib import Path
        example = Path(__file__).resolve().parents[1] / "examples/speak_wav.py"
        with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
            subprocess.run(["espeak-ng", "-w", wav.name, "An example, spoken."], check=True)
            out = subprocess.run([sys.executable, str(example), wav.name, "--url", DAEMON.url, "--token", TOKEN],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("ended:", out.stdout)
            session_id = out.stdout.split()[1].rstrip(":")
            self.assertTrue(DAEMON.file(session_id).is_file(), out.stdout)
            bad = subprocess.run([sys.executable, str(example), wav.name, "--url", DAEMON.url, "--token", TOKEN,
                                  "--avatar", "nobody"], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("unknown_avatar (4005)", bad.stderr)


TOKEN = support.TOKEN
STYLE = None
LIVE = "rtp-test"


def _demo_style():
    status, body = DAEMON.admin("/v1/avatars")
    demo = next(a for a in json.loads(body)["avatars"] if a["name"] == "demo")
    # A style other than the default, so choosing it means something.
    return next(s for s in demo["styles"] if s != demo["default_style"])
