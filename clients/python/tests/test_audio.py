"""The audio path without a daemon: resampler, libopus through ctypes, packet durations, PCM forms."""

import ctypes
import unittest
from unittest import mock

import numpy as np

import avatard_client.opus as opus
from avatard_client import LibopusUnavailable, OpusDecoder, OpusEncoder, PcmEncoder, Resampler, packet_duration_48k
from avatard_client.audio import to_float_mono


def sine(freq, rate, seconds, amplitude=0.5, phase=0.0):
    t = np.arange(int(round(rate * seconds))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.float64)


class ResamplerTests(unittest.TestCase):
    def test_tone_keeps_frequency_amplitude_and_timing(self):
        # → 48 kHz: away from the edges the output is the same tone sampled at 48 kHz (measured: ≤ 2e-5).
        for rate, freq in ((44100, 1000.0), (22050, 3000.0), (32000, 7000.0), (11025, 440.0)):
            x = sine(freq, rate, 0.5)
            r = Resampler(rate, 48000)
            y = np.concatenate([r.process(x), r.flush()])
            self.assertEqual(len(y), -(-len(x) * 48000 // rate), rate)
            expected = sine(freq, 48000, len(y) / 48000)
            core = slice(2000, len(y) - 2000)
            err = np.max(np.abs(y[core] - expected[core]))
            self.assertLess(err, 1e-4, f"{rate} Hz: max error {err}")

    def test_chunked_equals_one_shot(self):
        rng = np.random.default_rng(1)
        x = rng.standard_normal(30000) * 0.1
        for rate in (44100, 22050, 96000):
            whole = Resampler(rate)
            ref = np.concatenate([whole.process(x), whole.flush()])
            chunked = Resampler(rate)
            parts, i = [], 0
            while i < len(x):
                n = int(rng.integers(1, 700))
                parts.append(chunked.process(x[i:i + n]))
                i += n
            parts.append(chunked.flush())
            got = np.concatenate(parts)
            self.assertEqual(len(got), len(ref))
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)

    def test_downsampling_rejects_above_new_nyquist(self):
        # 96 kHz → 48 kHz: a 10 kHz tone passes, a 30 kHz tone (would alias to 18 kHz) is ≥ 80 dB down
        # (measured: 108 dB).
        r = Resampler(96000)
        passed = np.concatenate([r.process(sine(10000, 96000, 0.3)), r.flush()])[1000:-1000]
        r = Resampler(96000)
        stopped = np.concatenate([r.process(sine(30000, 96000, 0.3)), r.flush()])[1000:-1000]
        self.assertAlmostEqual(np.sqrt(np.mean(passed ** 2)), 0.5 / np.sqrt(2), delta=0.005)
        self.assertLess(np.sqrt(np.mean(stopped ** 2)), 0.5 / np.sqrt(2) * 1e-4)

    def test_same_rate_is_passthrough_and_bad_rate_refused(self):
        x = np.linspace(-1, 1, 100)
        r = Resampler(48000)
        np.testing.assert_array_equal(r.process(x), x.astype(np.float32))
        with self.assertRaises(ValueError):
            Resampler(0)


class OpusTests(unittest.TestCase):
    def test_round_trip_at_every_native_rate_and_a_resampled_one(self):
        for rate in (8000, 12000, 16000, 24000, 48000, 44100, 22050):
            x = sine(440, rate, 1.0).astype(np.float32)
            enc = PcmEncoder(rate)
            packets = enc.encode(x) + enc.flush()
            self.assertEqual(len(packets), 50, rate)
            self.assertTrue(all(packet_duration_48k(p) == 960 for p in packets))
            dec = OpusDecoder(48000)
            y = np.concatenate([dec.decode(p) for p in packets])
            rms = np.sqrt(np.mean(y[4800:43200] ** 2))
            self.assertAlmostEqual(rms, 0.5 / np.sqrt(2), delta=0.03, msg=f"{rate} Hz")
            # The tone is at 440 Hz after decoding (the resampler kept the pitch).
            spectrum = np.abs(np.fft.rfft(y[4800:43200] * np.hanning(38400)))
            self.assertAlmostEqual(np.argmax(spectrum) * 48000 / 38400, 440, delta=2)

    def test_int16_bytes_float_and_stereo_inputs_agree(self):
        x = sine(300, 16000, 0.1)
        i16 = np.round(x * 32767).astype(np.int16)
        a = to_float_mono(i16.tobytes())
        b = to_float_mono(i16)
        c = to_float_mono(np.stack([x, x], axis=1), channels=2)
        d = to_float_mono(np.stack([i16, i16], axis=1).reshape(-1).tobytes(), channels=2)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, atol=1e-4)
        np.testing.assert_allclose(a, d, atol=1e-6)
        with self.assertRaises(ValueError):
            to_float_mono(b"\x00\x01\x02")
        with self.assertRaises(TypeError):
            to_float_mono(np.zeros(4, dtype=np.int32))

    def test_partial_packet_waits_and_flush_pads(self):
        enc = PcmEncoder(16000)
        self.assertEqual(enc.encode(np.zeros(300, np.float32)), [])
        self.assertEqual(len(enc.encode(np.zeros(400, np.float32))), 2)
        self.assertEqual(enc.buffered_samples, 60)
        self.assertEqual(len(enc.flush()), 1)
        self.assertEqual(enc.buffered_samples, 0)
        enc.encode(np.zeros(100, np.float32))
        enc.reset()
        self.assertEqual(enc.flush(), [])

    def test_toc_durations_match_libopus(self):
        lib = opus.load_libopus()
        for config in range(32):
            for code, extra in ((0, b""), (1, b"\x00"), (2, b"\x01\x00"), (3, b"\x03")):
                packet = bytes([(config << 3) | code]) + extra + b"\x00" * 8
                theirs = lib.opus_packet_get_nb_samples(packet, len(packet), 48000)
                if theirs < 0:      # libopus: invalid (over 120 ms)
                    with self.assertRaises(ValueError):
                        packet_duration_48k(packet)
                else:
                    self.assertEqual(packet_duration_48k(packet), theirs, f"config {config} code {code}")
        with self.assertRaises(ValueError):
            packet_duration_48k(b"")
        with self.assertRaises(ValueError):
            packet_duration_48k(bytes([(3 << 3) | 3, 3]))    # 3 × 60 ms > 120 ms

    def test_encoder_refuses_wrong_frame_and_rate(self):
        with self.assertRaises(ValueError):
            OpusEncoder(44100)
        enc = OpusEncoder(48000)
        with self.assertRaises(ValueError):
            enc.encode(np.zeros(100, np.float32))

    def test_missing_libopus_is_a_clear_error(self):
        saved = opus._lib
        opus._lib = None
        try:
            with mock.patch.object(ctypes.util, "find_library", return_value=None), \
                 mock.patch.object(ctypes, "CDLL", side_effect=OSError("cannot open shared object file")):
                with self.assertRaises(LibopusUnavailable) as caught:
                    OpusEncoder(48000)
            self.assertIn("libopus0", str(caught.exception))
            self.assertIn("libopus not found", str(caught.exception))
        finally:
            opus._lib = saved


if __name__ == "__main__":
    unittest.main()
