"""The Pipecat processor inside Pipecat pipelines (pipecat.tests.utils.run_test) against the real daemon."""

import asyncio
import unittest

import numpy as np

try:
    from pipecat.frames.frames import (ErrorFrame, InterruptionFrame, TTSAudioRawFrame, TTSStartedFrame,
                                       TTSStoppedFrame, UserStartedSpeakingFrame)
    from pipecat.processors.frame_processor import FrameDirection
    from pipecat.tests.utils import SleepFrame, run_test

    from avatard_client.pipecat import AvatardProcessor
except ImportError as error:      # the `pipecat` extra is optional; scripts/setup.sh test installs it
    import os
    if os.environ.get("AVATARD_REQUIRE_DAEMON") == "1":
        raise
    raise unittest.SkipTest(f"pipecat-ai is not installed: {error}")

import avatard_client as ac
from avatard_client.resample import Resampler

import harness

from loguru import logger
import sys
logger.remove()
logger.add(sys.stderr, level="WARNING")      # Pipecat logs every pipeline step at DEBUG

DAEMON = None
SINK = None
LIVE = "rtp-test"


def setUpModule():
    global DAEMON, SINK
    SINK = harness.UdpSink()
    DAEMON = harness.Daemon(extra_config=harness.rtp_preset(LIVE, SINK.ports))


def tearDownModule():
    if DAEMON is not None:
        DAEMON.stop()
    if SINK is not None:
        SINK.close()


def tts_frames(text: str, rate: int = 24000, chunk_ms: int = 40, context: str = "c1") -> tuple[list, float]:
    """What a Pipecat TTS service pushes: started, 16-bit audio chunks at `rate`, stopped."""
    pcm, espeak_rate = harness.speech(text)
    r = Resampler(espeak_rate, rate)
    audio = np.concatenate([r.process(pcm / 32768.0), r.flush()])
    i16 = np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2")
    step = rate * chunk_ms // 1000
    chunks = [TTSAudioRawFrame(audio=i16[i:i + step].tobytes(), sample_rate=rate, num_channels=1, context_id=context)
              for i in range(0, len(i16), step)]
    return [TTSStartedFrame(context_id=context), *chunks, TTSStoppedFrame(context_id=context)], len(i16) / rate


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


class PipecatTests(unittest.TestCase):
    def test_tts_audio_becomes_the_avatar_file(self):
        first, first_seconds = tts_frames("Hi there.", context="a")
        second, second_seconds = tts_frames("How can I help?", context="b")
        processor = AvatardProcessor(url=DAEMON.url, token=harness.TOKEN, avatar="demo", output="file-mp4",
                                     output_options={"speed": "ultrafast"})
        ready = []

        @processor.event_handler("on_session_ready")
        async def on_ready(proc, event):
            ready.append(event)

        # The second response comes 1.5 s after the first, which the TTS produced at once: a real-time
        # player would show the first, then ~(1.5 − its length) s of rest, then the second.
        self.assertLess(first_seconds, 1.1)
        down, up = run(run_test(processor, frames_to_send=[*first, SleepFrame(sleep=1.5), *second],
                                expected_down_frames=[TTSStartedFrame, TTSStoppedFrame, TTSStartedFrame, TTSStoppedFrame]))
        self.assertEqual(up, [])
        session = processor.session
        self.assertEqual(len(ready), 1)
        self.assertEqual(session.close_code, 1000)
        self.assertEqual(session.ended.packets_lost, 0)
        # Every TTS chunk was sent, from the first one (24 kHz int16: bytes = 48 kHz samples), each response
        # ending on a padded packet.
        per_response = [sum(len(f.audio) for f in r if isinstance(f, TTSAudioRawFrame)) for r in (first, second)]
        self.assertEqual(session.next_seq, sum(-(-n // 960) for n in per_response))
        # Both responses (each padded to whole 20 ms packets) and the rest between them, kept as silence
        # because the second response starts at the wall clock.
        speech = np.ceil(first_seconds / 0.02) * 0.02 + np.ceil(second_seconds / 0.02) * 0.02
        rest = 1.5 - first_seconds
        duration = harness.discover(DAEMON.file(session.session_id))["duration"]
        self.assertGreater(duration, speech + rest - 0.1)
        self.assertLess(duration, speech + rest + 0.5)
        self.assertAlmostEqual(session.ended.duration_ms / 1000, duration, delta=0.045)

    def test_user_speech_interrupts_the_avatar(self):
        talk, seconds = tts_frames("This answer is long, it goes on and on about many things, "
                                   "and nobody wants to hear all of it.", context="long")
        self.assertGreater(seconds, 4)
        # More audio of the interrupted response, arriving after the barge-in.
        late = [TTSAudioRawFrame(audio=f.audio, sample_rate=f.sample_rate, num_channels=1, context_id="long")
                for f in talk[5:8]]
        after, _ = tts_frames("Sure.", context="next")
        processor = AvatardProcessor(url=DAEMON.url, token=harness.TOKEN, avatar="demo", output=LIVE)
        interrupted = []

        @processor.event_handler("on_interrupted")
        async def on_interrupted(proc, event):
            interrupted.append(event)

        frames = [*talk, SleepFrame(sleep=1.0), UserStartedSpeakingFrame(), InterruptionFrame(),
                  SleepFrame(sleep=0.3), *late, *after, SleepFrame(sleep=0.3)]
        down, up = run(run_test(processor, frames_to_send=frames))
        self.assertEqual([type(f) for f in up], [])
        session = processor.session
        self.assertEqual(len(interrupted), 1, "one interrupt for UserStartedSpeaking + InterruptionFrame")
        sent_before = -(-int(seconds * 48000) // 960) * 960
        # Rendering is live (paced to the wall clock): about 1 s of the speech was shown, the rest dropped.
        self.assertLess(interrupted[0].last_rendered_ts, sent_before - 48000)
        self.assertGreater(interrupted[0].last_rendered_ts, 0)
        # The late audio of the interrupted response was not sent; the next response was.
        samples48 = [sum(len(f.audio) for f in frames if isinstance(f, TTSAudioRawFrame)) for frames in (talk, after)]
        self.assertEqual(session.next_seq, sum(-(-n // 960) for n in samples48))   # 24 kHz int16 bytes = 48 kHz samples
        self.assertEqual(session.close_code, 1000)
        self.assertIn(InterruptionFrame, [type(f) for f in down])

    def test_unknown_avatar_becomes_an_error_frame(self):
        processor = AvatardProcessor(url=DAEMON.url, token=harness.TOKEN, avatar="nobody", output="file-mp4")
        frames, _ = tts_frames("Hi.")
        down, up = run(run_test(processor, frames_to_send=frames))
        errors = [f for f in up if isinstance(f, ErrorFrame)]
        self.assertEqual(len(errors), 1)
        self.assertIsInstance(errors[0].exception, ac.UnknownAvatar)
        self.assertEqual(errors[0].exception.code, 4005)
        # The pipeline kept running: the TTS control frames still went through.
        self.assertEqual([type(f) for f in down], [TTSStartedFrame, TTSStoppedFrame])

    def test_pipecat_example(self):
        import subprocess, sys, tempfile
        from pathlib import Path
        example = Path(__file__).resolve().parents[1] / "examples/pipecat_wav.py"
        with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
            subprocess.run(["espeak-ng", "-w", wav.name, "Pipecat speaking."], check=True)
            out = subprocess.run([sys.executable, str(example), wav.name, "--url", DAEMON.url,
                                  "--token", harness.TOKEN], capture_output=True, text=True, timeout=90)
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])
        session_id = out.stdout.split()[2]
        self.assertIn("ended:", out.stdout)
        self.assertGreater(harness.discover(DAEMON.file(session_id))["duration"], 0.5)
