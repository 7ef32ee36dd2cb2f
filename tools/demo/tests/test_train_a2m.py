"""Training smoke test: a few steps on the --small corpus, export, and the exported bundle tensors run through the
reference ICS-A2M (tools/reference/a2m.py) give the training forward's velocities."""
import json
import math
import os
import sys
import tempfile
import unittest

import torch

from tools.demo import make_dataset
from tools.demo import train_a2m
from tools.reference import a2m as ref
from tools.reference.logmel import LogMelConfig
from tools.reference.safetensors_io import read

HERE = os.path.dirname(os.path.abspath(__file__))


class TrainSmokeTests(unittest.TestCase):
    def test_train_export_and_reference_agree(self):
        with tempfile.TemporaryDirectory() as d:
            data, work, out = (os.path.join(d, x) for x in ("data", "work", "bundle"))
            make_dataset.main(["--small", "--out", data])
            sys.argv = ["train_a2m.py", "--data", data, "--work", work, "--steps", "6", "--batch", "2",
                        "--fresh", "--export", out, "--threads", "1"]
            train_a2m.main()
            manifest = json.load(open(os.path.join(out, "manifest.json")))
            self.assertEqual(manifest["motion_model"]["kind"], "ics_a2m")
            self.assertEqual(manifest["audio_frontend"]["kind"], "log_mel")
            self.assertEqual(set(s["name"] for s in manifest["styles"]), {"calm", "lively"})
            # the head pose: named, limited in the window's feedback, smoothed per session
            names = manifest["motion_names"]
            self.assertEqual(names[-3:], ["head_pitch", "head_yaw", "head_roll"])
            c = manifest["motion_model"]["config"]
            self.assertEqual([names[i] for i in c["stream_limit_dims"]], names[-3:])
            self.assertEqual(c["stream_limit"], train_a2m.HEAD_LIMIT)
            self.assertEqual([names[i] for i in c["temperature_dims"]], names[-3:])
            self.assertAlmostEqual(c["temperature_dims_scale"] * c["temperature"], train_a2m.HEAD_TEMPERATURE, places=3)
            self.assertEqual(c["stream_context"], "audio")
            self.assertEqual(manifest["motion_smoothing"]["dimensions"], names[-3:])
            tensors = read(os.path.join(out, "a2m.safetensors"))
            cfg = ref.A2MConfig.from_manifest(manifest["motion_model"]["config"])
            for name, shape in ref.tensor_shapes(cfg).items():
                self.assertEqual(list(tensors[name].shape), shape, name)
                self.assertEqual(manifest["motion_model"]["tensors"][name], shape)

            # The same velocities from the training forward (raw mel, normalisation inside) and from the reference
            # model over the exported tensors (normalisation folded into conv0).
            model, _ = train_a2m.load_checkpoint(work)
            g = torch.Generator().manual_seed(3)
            N, P = 12, 5
            mel = torch.randn(1, 2 * N, 80, generator=g) * 3 - 8
            x = torch.randn(1, N, cfg.motion_dim, generator=g)
            cond = torch.randn(1, N, cfg.motion_dim, generator=g) * 0.3
            mask = torch.zeros(N, dtype=torch.bool)
            mask[P:] = True
            reference = ref.A2M(cfg, tensors)
            cond_emb = reference.condition(reference.encode_audio(mel[0]))
            with torch.no_grad():
                self.assertLess((model.condition(mel)[0] - cond_emb).abs().max().item(), 1e-4)
                for drop in (False, True):
                    want = reference.velocity(x[0], 0.37, cond_emb, cond[0], mask, drop)
                    got = model.velocity(x, torch.tensor([0.37]), model.condition(mel), cond, mask,
                                         torch.tensor([drop]))[0]
                    self.assertLess((got - want).abs().max().item(), 1e-4 * max(1.0, want.abs().max().item()))

            # The exported styles carry motion and audio of matching lengths (2 feature rows per frame).
            st = read(os.path.join(out, "styles.safetensors"))
            mel_cfg = LogMelConfig()
            for s in manifest["styles"]:
                frames = st[s["motion_tensor"]].shape[0]
                self.assertEqual(mel_cfg.frames(st[s["audio_tensor"]].shape[0]), 2 * frames)
            self.assertTrue(math.isfinite(float(tensors["output_proj.weight"].abs().sum())))

            # The model's own sample of prompt-conditioned rows is the reference sampler's (cfg 1, same noise).
            gen = torch.Generator().manual_seed(5)
            steps, temp = 2, 0.3
            with torch.no_grad():
                own = model.sample_rows(mel, cond, P, steps, temp, gen)
            noise = torch.randn(1, N, cfg.motion_dim, generator=torch.Generator().manual_seed(5))
            want = ref.sample(reference, mel[0, 2 * P:], style=ref.Style(cond[0, :P], mel[0, :2 * P]), noise=noise[0],
                              steps=steps, cfg_scale=1.0, temperature=temp)
            self.assertLess((own[0] - want).abs().max().item(), 1e-4)

            # Self context: the context rows become the model's own sample, the targets return from its last
            # error to the truth (per-dimension time constants), the style clip stays.
            S, C, T = 3, 4, 5
            y = torch.randn(2, S + C + T, cfg.motion_dim, generator=g) * 0.2
            mel2 = torch.randn(2, 2 * (S + C + T), 80, generator=g) * 3 - 8
            taus = torch.full((cfg.motion_dim,), 3.0)
            with torch.no_grad():
                out = model.self_context(mel2, y, (S, C, T), taus, steps, temp, torch.Generator().manual_seed(6))
                ctx = model.sample_rows(mel2[:, :2 * (S + C)], y[:, :S + C], S, steps, temp, torch.Generator().manual_seed(6))
            self.assertTrue(torch.equal(out[:, :S], y[:, :S]))
            self.assertTrue(torch.equal(out[:, S:S + C], ctx))
            err = ctx[:, -1] - y[:, S + C - 1]
            for k in range(T):
                want_k = y[:, S + C + k] + math.exp(-(k + 1) / 3.0) * err
                self.assertLess((out[:, S + C + k] - want_k).abs().max().item(), 1e-6)
            self.assertTrue(torch.equal(model.self_context(mel2, y, (S + C, 0, T), taus, steps, temp, gen), y))

            # Batches shaped as the audio context's window: 1 s style clip, no prompt context, all frames targets.
            corpus = train_a2m.load_corpus([data], os.path.join(work, "corpus.pt"))
            utts = [u for u in corpus["utts"] if u["split"] == "train" and u["targets"].shape[0] >= 25 + 30 + 4]
            self.assertTrue(utts, "the small corpus has utterances long enough for a window batch")
            batcher = train_a2m.Batcher(utts, corpus["exp_names"], 0, math.log(LogMelConfig().log_floor))
            batcher.window_share, batcher.window_frames = 1.0, 30
            wmel, wy, wmask = batcher.batch(2)
            self.assertEqual(batcher.last_shape, (25, 0, 30))
            self.assertEqual((tuple(wy.shape[:2]), int(wmask.sum()), wmel.shape[1]), ((2, 55), 30, 110))
            # Per-dimension loss weights: all ones is the plain loss (same draws).
            ones = torch.ones(cfg.motion_dim)
            l1 = model.loss(wmel, wy, wmask, 0.0, torch.Generator().manual_seed(9))
            l2 = model.loss(wmel, wy, wmask, 0.0, torch.Generator().manual_seed(9), dim_weights=ones)
            l3 = model.loss(wmel, wy, wmask, 0.0, torch.Generator().manual_seed(9), dim_weights=ones * 2)
            self.assertAlmostEqual(float(l1), float(l2), places=6)
            self.assertAlmostEqual(float(l3), 2 * float(l1), places=5)


if __name__ == "__main__":
    unittest.main()
