import unittest

import numpy as np
import torch

from tools.tests._common import rel_max
from tools import synth_checkpoint as synth
from tools.reference import conversion
from tools.reference.hubert import Hubert, HubertConfig, normalize_waveform, pad_rows, utterance_features


class HubertTests(unittest.TestCase):
    def model(self, stable):
        cfg = HubertConfig.tiny(stable)
        module = synth.make_hubert(cfg, 4).eval()
        return cfg, module, Hubert(cfg, conversion.hubert_bundle_tensors(module.state_dict(), cfg))

    def test_matches_torch_nn_building_blocks(self):
        for stable in (True, False):
            cfg, module, model = self.model(stable)
            wave = normalize_waveform(np.random.default_rng(1).standard_normal(5000))
            want = module(wave[None])[0]
            got = model.features(wave)
            self.assertEqual(got.shape[0], cfg.frames(5000))
            self.assertLess(rel_max(got, want), 1e-5, f"stable={stable}")

    def test_large_geometry(self):
        cfg = HubertConfig()
        self.assertEqual((cfg.stride, cfg.receptive_field), (320, 400))
        for n in (400, 719, 720, 16000, 320080):
            self.assertEqual(cfg.frames(n), (n - 80) // 320)
        self.assertEqual(cfg.frames(320080), 1000)

    def test_normalisation(self):
        x = np.random.default_rng(2).standard_normal(3000) * 0.1 + 0.3
        y = normalize_waveform(x).double()
        self.assertLess(abs(float(y.mean())), 1e-6)
        self.assertLess(abs(float(y.var(unbiased=False)) - 1.0), 1e-4)

    def test_chunking_rule(self):
        cfg, _, model = self.model(True)
        C = 5
        S, R = cfg.stride, cfg.receptive_field
        wave = np.random.default_rng(3).standard_normal(2 * S * C + 700)  # two full chunks + a 700-sample rest
        out = utterance_features(model, wave, chunk_frames=C)
        n = wave.shape[0]
        self.assertEqual(out.shape[0], (n - (R - S)) // S)
        x = normalize_waveform(wave)  # whole-utterance normalisation, then independent chunks
        first = model.features(x[:S * (C - 1) + R])
        second = model.features(x[S * C:S * C + S * (C - 1) + R])
        rest = model.features(x[2 * S * C:])
        self.assertTrue(torch.equal(out[:C], first))
        self.assertTrue(torch.equal(out[C:2 * C], second))
        self.assertTrue(torch.equal(out[2 * C:], rest))
        # A rest shorter than the receptive field is dropped and the count still matches.
        short = wave[:S * C + 100]
        self.assertEqual(utterance_features(model, short, chunk_frames=C).shape[0], (short.shape[0] - (R - S)) // S)
        self.assertEqual(utterance_features(model, wave[:R - 1]).shape[0], 0)

    def test_pad_rows(self):
        x = torch.ones(13, 3)
        p = pad_rows(x)
        self.assertEqual(p.shape[0], 16)
        self.assertTrue(torch.equal(p[13:], torch.zeros(3, 3)))
        self.assertIs(pad_rows(torch.ones(16, 3)).shape[0], 16)

    def test_hf_config_round_trip_and_refusals(self):
        for cfg in (HubertConfig(), HubertConfig.tiny(False)):
            self.assertEqual(HubertConfig.from_hf(cfg.to_hf()), cfg)
        with self.assertRaises(ValueError):
            HubertConfig.from_hf(dict(HubertConfig().to_hf(), conv_pos_batch_norm=True))
        with self.assertRaises(ValueError):
            HubertConfig.from_hf(dict(HubertConfig().to_hf(), model_type="whisper"))


if __name__ == "__main__":
    unittest.main()
