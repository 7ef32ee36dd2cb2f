"""Wire details without a daemon: the 16-byte header, session.start, events, the error classes."""

import json
import struct
import unittest

from avatard_client import errors
from avatard_client.protocol import (Ended, ErrorEvent, Interrupted, Ready, Stats, UnknownEvent, audio_frame,
                                     parse_audio_frame, parse_event, session_start)


class HeaderTests(unittest.TestCase):
    def test_header_bytes_are_the_spec_layout(self):
        frame = audio_frame(0x01020304, 0x0A0B0C0D0E0F1011, b"\xfc\xff")
        self.assertEqual(frame[:16], bytes([0x41, 0x01, 0, 0, 1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x11]))
        self.assertEqual(frame[16:], b"\xfc\xff")
        self.assertEqual(parse_audio_frame(frame), (0x01020304, 0x0A0B0C0D0E0F1011, b"\xfc\xff"))

    def test_seq_wraps_and_limits_hold(self):
        self.assertEqual(struct.unpack(">I", audio_frame(2 ** 32 + 5, 0, b"x")[4:8])[0], 5)
        with self.assertRaises(ValueError):
            audio_frame(0, 0, b"")
        with self.assertRaises(ValueError):
            audio_frame(0, 0, b"x" * 1276)
        with self.assertRaises(ValueError):
            audio_frame(0, -1, b"x")
        with self.assertRaises(ValueError):
            parse_audio_frame(bytes([0x42, 1, 0, 0]) + b"\x00" * 13)


class MessageTests(unittest.TestCase):
    def test_session_start(self):
        m = json.loads(session_start("demo", "file-mp4", style="calm", output_options={"bitrate_kbps": 1500}))
        self.assertEqual(m, {"type": "session.start", "avatar": "demo", "output": "file-mp4", "style": "calm",
                             "audio": {"codec": "opus", "sample_rate": 48000, "channels": 1},
                             "output_options": {"bitrate_kbps": 1500}})
        self.assertNotIn("style", json.loads(session_start("demo", "rtp-h264")))

    def test_events(self):
        r = parse_event('{"type":"session.ready","session_id":"s1","video":{"width":256,"height":256,"fps":25},'
                        '"output":"file-mp4","latency_ms":0}')
        self.assertEqual((r.session_id, r.width, r.height, r.fps, r.output, r.latency_ms), ("s1", 256, 256, 25, "file-mp4", 0))
        self.assertIsInstance(r, Ready)
        s = parse_event('{"type":"stats","buffered_ms":120,"frames_rendered":50,"frames_dropped":1,'
                        '"packets_lost":2,"latency_ms_p50":30.5,"latency_ms_p95":41}')
        self.assertEqual(s, Stats({}, 120, 50, 1, 2, 30.5, 41))
        self.assertEqual(parse_event('{"type":"input.interrupted","last_rendered_ts":96000}').last_rendered_ts, 96000)
        self.assertIsInstance(parse_event('{"type":"input.interrupted","last_rendered_ts":1}'), Interrupted)
        self.assertIsInstance(parse_event('{"type":"session.ended","frames":3,"duration_ms":120,'
                                          '"frames_dropped":0,"packets_lost":0}'), Ended)
        self.assertEqual(parse_event('{"type":"error","code":"unknown_avatar","message":"no"}'),
                         ErrorEvent({}, "unknown_avatar", "no"))
        self.assertIsInstance(parse_event('{"type":"future.thing"}'), UnknownEvent)
        for bad in ("not json", "[1]", '{"type":"input.interrupted"}', '{"type":"session.ready","video":{}}'):
            with self.assertRaises(ValueError):
                parse_event(bad)


class ImportTests(unittest.TestCase):
    def test_import_loads_neither_libopus_nor_pipecat(self):
        import subprocess, sys
        code = ("import sys, avatard_client, avatard_client.opus as o; "
                "assert o._lib is None, 'libopus loaded at import'; "
                "assert not any(m.startswith('pipecat') for m in sys.modules), 'pipecat imported'")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)


class ErrorClassTests(unittest.TestCase):
    def test_every_close_code_has_its_class(self):
        table = {1001: "going_away", 1008: "policy", 1009: "too_big", 1011: "internal", 4000: "protocol",
                 4001: "unsupported", 4002: "capacity", 4003: "idle_timeout", 4004: "output_failed",
                 4005: "unknown_avatar", 4006: "unknown_output"}
        for code, name in table.items():
            by_name = errors.session_error(code, name, "m")
            by_code = errors.session_error(code, None, "m")
            self.assertIs(type(by_name), type(by_code))
            self.assertEqual((by_name.code, by_name.name, by_name.message), (code, name, "m"))
        self.assertIsInstance(errors.session_error(4005, "unknown_avatar"), errors.UnknownAvatar)
        self.assertIsInstance(errors.session_error(1006, None), errors.ConnectionLost)
        odd = errors.session_error(4999, "novel", "x")
        self.assertEqual((type(odd), odd.code, odd.name), (errors.SessionError, 4999, "novel"))


if __name__ == "__main__":
    unittest.main()
