import math
import unittest

import numpy as np
import torch

from tools.reference.logmel import LogMelConfig, hann_window, log_mel, mel_filterbank


class LogMelTests(unittest.TestCase):
    def test_matches_torch_stft_with_an_independent_filterbank(self):
        cfg = LogMelConfig()
        wave = np.random.default_rng(0).standard_normal(5000).astype(np.float32) * 0.1
        got = log_mel(wave, cfg).double()
        # torch.stft centres the 400-sample window inside the 512 frame (offset 56); shifting the signal by 56
        # makes frame t use the same samples, and the shift only changes the phase, not |X|².
        x = torch.from_numpy(np.concatenate([np.zeros(56), wave, np.zeros(56)])).double()
        spec = torch.stft(x, n_fft=512, hop_length=320, win_length=400,
                          window=torch.hann_window(400, periodic=True, dtype=torch.float64), center=False,
                          return_complex=True)
        power = (spec.abs() ** 2).t()[:got.shape[0]]
        # Filterbank written independently: HTK triangles by bin frequency.
        hz = lambda m: 700 * (10 ** (m / 2595) - 1)
        mel = lambda f: 2595 * math.log10(1 + f / 700)
        lo, hi = mel(20.0), mel(7600.0)
        edges = [hz(lo + j * (hi - lo) / 81) for j in range(82)]
        fb = torch.zeros(80, 257, dtype=torch.float64)
        for m in range(80):
            for k in range(257):
                f = k * 16000 / 512
                if edges[m] < f < edges[m + 2]:
                    fb[m, k] = (f - edges[m]) / (edges[m + 1] - edges[m]) if f <= edges[m + 1] else \
                        (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1])
        want = torch.log(torch.clamp(power @ fb.t(), min=1e-10))
        self.assertEqual(got.shape, (15, 80))
        self.assertLess(float((got - want).abs().max()), 2e-4)
        self.assertLess(float((torch.from_numpy(mel_filterbank(cfg)).double() - fb).abs().max()), 1e-6)

    def test_frames_floor_and_window(self):
        cfg = LogMelConfig()
        self.assertEqual(log_mel(np.zeros(399, np.float32)).shape, (0, 80))
        silent = log_mel(np.zeros(1040, np.float32))
        self.assertEqual(silent.shape, (3, 80))
        self.assertTrue(torch.allclose(silent, torch.full_like(silent, math.log(1e-10))))
        w = hann_window(cfg)
        self.assertEqual((w[0], w[200]), (0.0, 1.0))
        self.assertEqual(cfg.frames(16000), 49)

    def test_tone_lands_in_the_right_band(self):
        cfg = LogMelConfig()
        t = np.arange(16000) / 16000.0
        m = log_mel((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32), cfg)
        band = int(m.mean(dim=0).argmax())
        fb = mel_filterbank(cfg)
        self.assertEqual(band, int(np.argmax(fb[:, 32])))  # bin 32 = 1000 Hz


if __name__ == "__main__":
    unittest.main()
