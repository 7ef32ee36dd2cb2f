import json
import os
import unittest

import torch

from tools.tests._common import quiet, rel_max, tempdir
from tools import convert
from tools import synth_checkpoint as synth
from tools.reference import conversion, safetensors_io
from tools.reference.a2m import A2M, A2MConfig, Style, sample
from tools.reference.a2m_modules import OfficialA2M
from tools.reference.hubert import Hubert, HubertConfig, normalize_waveform
from tools.reference.logmel import LogMelConfig


def write_official(path, sd):
    ckpt = {"epoch": 1, "global_step": 5, "state_dict": {"model": sd}, "optimizer_states": []}
    torch.save(ckpt, path, _use_new_zipfile_serialization=False)


class ConverterRoundTripTests(unittest.TestCase):
    def run_cli(self, *argv):
        with quiet() as err:
            rc = convert.main(list(argv))
        return rc, err.getvalue()

    def round_trip(self, aux, hubert_format, prefix):
        d = tempdir(self)
        cfg = A2MConfig.tiny(aux=aux, audio_dim=24)
        ckpt = os.path.join(d, "model_ckpt_steps_5.ckpt")
        model = synth.write_a2m(ckpt, cfg, seed=11).eval()
        hcfg = HubertConfig.tiny()
        hcfg.hidden_size = 24
        hdir = os.path.join(d, "hubert")
        hmodel = synth.write_hubert(hdir, hcfg, seed=12, fmt=hubert_format, prefix=prefix).eval()
        out = os.path.join(d, "bundle")
        rc, err = self.run_cli("a2m", "--checkpoint", ckpt, "--hubert", hdir, "--out", out)
        self.assertEqual(rc, 0, err)
        self.assertIn("aux features " + ("on" if aux else "off"), err)
        with open(os.path.join(out, "manifest.json")) as f:
            manifest = json.load(f)
        self.assertEqual([k for k in manifest if k in ("audio_frontend", "motion_model", "renderer")],
                         ["audio_frontend", "motion_model"])           # a complete motion-only bundle
        self.assertEqual((manifest["format"], manifest["version"]), ("avatard-bundle", 1))
        mm, af = manifest["motion_model"], manifest["audio_frontend"]
        self.assertEqual((mm["kind"], mm["weights"]), ("ics_a2m", ["a2m.safetensors"]))
        self.assertEqual((af["kind"], af["weights"]), ("hubert", ["hubert.safetensors"]))
        self.assertEqual(mm["config"]["aux"], aux)
        self.assertEqual(mm["config"]["depth"], cfg.depth)
        self.assertEqual(len(mm["config"]["source"]["sha256"]), 64)
        for comp, file in ((mm, "a2m.safetensors"), (af, "hubert.safetensors")):
            tensors = safetensors_io.read(os.path.join(out, file))
            self.assertEqual({k: list(v.shape) for k, v in tensors.items()}, comp["tensors"])
            self.assertTrue(all(v.dtype == torch.float32 for v in tensors.values()))

        # A2M: functional reference on the bundle vs the module tree on the original checkpoint (BN unfolded).
        a2m = A2M(A2MConfig.from_manifest(mm["config"]), safetensors_io.read(os.path.join(out, "a2m.safetensors")))
        g = torch.Generator().manual_seed(5)
        T, Tr = 10, 6
        feats = torch.randn(2 * T, 24, generator=g)
        sfeat, smot = torch.randn(2 * Tr, 24, generator=g), torch.randn(Tr, cfg.motion_dim, generator=g)
        noise = torch.randn(Tr + T, cfg.motion_dim, generator=g)
        f0 = torch.randint(1, 256, (2 * (T + Tr),), generator=g) if aux else None
        got = sample(a2m, feats, style=Style(smot, sfeat, None if f0 is None else f0[:2 * Tr]), noise=noise,
                     steps=4, cfg_scale=1.5, temperature=0.8, f0_coarse=None if f0 is None else f0[2 * Tr:])
        want = model.sample(feats, smot, sfeat, noise=noise, steps=4, cfg_scale=1.5, temperature=0.8, f0_coarse=f0)
        self.assertLess(rel_max(got, want), 1e-4)

        # HuBERT: functional on the bundle vs the HF-layout module (weight norm unfolded) on the original weights.
        hub = Hubert(HubertConfig.from_manifest(af["config"]), safetensors_io.read(os.path.join(out, "hubert.safetensors")))
        wave = normalize_waveform(torch.randn(4000, generator=g).numpy())
        self.assertLess(rel_max(hub.features(wave), hmodel(wave[None])[0]), 1e-5)

    def test_round_trip_plain_bin(self):
        self.round_trip(aux=False, hubert_format="bin", prefix="")

    def test_round_trip_aux_safetensors_ctc_prefix(self):
        self.round_trip(aux=True, hubert_format="safetensors", prefix="hubert.")

    def test_log_mel_frontend_bundle(self):
        d = tempdir(self)
        ckpt = os.path.join(d, "m.ckpt")
        synth.write_a2m(ckpt, A2MConfig.tiny(audio_dim=80), seed=1)
        rc, err = self.run_cli("a2m", "--checkpoint", ckpt, "--frontend", "log_mel", "--out", os.path.join(d, "b"))
        self.assertEqual(rc, 0, err)
        with open(os.path.join(d, "b", "manifest.json")) as f:
            m = json.load(f)
        af = m["audio_frontend"]
        self.assertEqual(af["kind"], "log_mel")
        self.assertEqual(LogMelConfig.from_manifest(af["config"]), LogMelConfig())
        self.assertEqual((m["name"], m["motion_model"]["kind"]), (os.path.basename(d), "ics_a2m"))
        self.assertEqual(sorted(os.listdir(os.path.join(d, "b"))), ["a2m.safetensors", "manifest.json"])

    def test_hubert_is_a_building_block(self):
        d = tempdir(self)
        hcfg = HubertConfig.tiny()
        synth.write_hubert(os.path.join(d, "h"), hcfg, seed=2, fmt="safetensors")
        rc, err = self.run_cli("hubert", "--hubert", os.path.join(d, "h"), "--out", os.path.join(d, "b"))
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(os.listdir(os.path.join(d, "b"))), ["hubert.component.json", "hubert.safetensors"])
        with open(os.path.join(d, "b", "hubert.component.json")) as f:
            self.assertEqual(json.load(f)["audio_frontend"]["kind"], "hubert")


class RefusedLayoutTests(unittest.TestCase):
    def setUp(self):
        self.cfg = A2MConfig.tiny()
        self.sd = synth.make_a2m(self.cfg, 3).state_dict()

    def refused(self, sd, *needles):
        with self.assertRaises(conversion.LayoutError) as ctx:
            conversion.detect_a2m(sd)
        for n in needles:
            self.assertIn(n, str(ctx.exception))
        return str(ctx.exception)

    def test_detects_tiny_layout(self):
        self.assertEqual(conversion.detect_a2m(self.sd), self.cfg)

    def test_cond_emb_width_mismatch(self):
        sd = dict(self.sd)
        key = "backbone.icl_transformer_model.to_cond_emb.weight"
        sd[key] = torch.zeros(8, 300)
        self.refused(sd, key, "[8, 300]", "absent")

    def test_aux_tensors_missing_but_wide_cond(self):
        cfg = A2MConfig.tiny(aux=True)
        sd = {k: v for k, v in synth.make_a2m(cfg, 3).state_dict().items() if not k.startswith("pitch_embed")}
        self.refused(sd, "to_cond_emb.weight", "[8, 28]")

    def test_unknown_key(self):
        sd = dict(self.sd)
        sd["backbone.icl_transformer_model.extra_head.weight"] = torch.zeros(3, 3)
        self.refused(sd, "extra_head.weight", "[3, 3]")

    def test_unet_skip_and_missing_layer(self):
        sd = dict(self.sd)
        sd["backbone.icl_transformer_model.transformer.layers.1.0.weight"] = torch.zeros(16, 32)
        self.refused(sd, "layers.1.0.weight", "U-Net")
        sd = {k: v for k, v in self.sd.items() if ".layers.0." not in k}
        self.refused(sd, "numbered")

    def test_misshaped_layer_tensor(self):
        sd = dict(self.sd)
        key = "backbone.icl_transformer_model.transformer.layers.1.3.to_out.weight"
        sd[key] = torch.zeros(16, 15)
        self.refused(sd, key, "[16, 15]", "[16, 16]")

    def test_transformer_only_variant(self):
        sd = {k.replace("backbone.icl_transformer_model.", "backbone."): v for k, v in self.sd.items()}
        self.refused(sd, "icl_flow_matching")

    def test_cli_reports_refusal_and_hubert_mismatch(self):
        d = tempdir(self)
        ckpt = os.path.join(d, "bad.ckpt")
        sd = dict(self.sd)
        sd["hubert_encoder.0.weight"] = torch.zeros(16, 24, 5)
        write_official(ckpt, sd)
        with quiet() as err:
            rc = convert.main(["a2m", "--checkpoint", ckpt, "--frontend", "log_mel", "--out", os.path.join(d, "b")])
        self.assertEqual(rc, 2)
        self.assertIn("hubert_encoder.0.weight", err.getvalue())
        ok = os.path.join(d, "ok.ckpt")
        write_official(ok, self.sd)
        hdir = os.path.join(d, "h")
        synth.write_hubert(hdir, HubertConfig.tiny(), seed=1)  # hidden 24 == audio_dim 24: accepted
        with quiet():
            self.assertEqual(convert.main(["a2m", "--checkpoint", ok, "--hubert", hdir, "--out", os.path.join(d, "c")]), 0)
        cfg = HubertConfig.tiny()
        cfg.hidden_size = 20
        synth.write_hubert(hdir, cfg, seed=1)
        with quiet() as err:
            rc = convert.main(["a2m", "--checkpoint", ok, "--hubert", hdir, "--out", os.path.join(d, "c")])
        self.assertEqual(rc, 2)
        self.assertIn("hidden size 20", err.getvalue())

    def test_hubert_unknown_and_missing_keys(self):
        cfg = HubertConfig.tiny()
        sd = synth.make_hubert(cfg, 2).state_dict()
        bad = dict(sd)
        bad["encoder.layers.0.attention.rotary.weight"] = torch.zeros(2)
        with self.assertRaises(conversion.LayoutError) as ctx:
            conversion.hubert_bundle_tensors(bad, cfg)
        self.assertIn("encoder.layers.0.attention.rotary.weight", str(ctx.exception))
        bad = {k: v for k, v in sd.items() if "layers.1.final_layer_norm.bias" not in k}
        with self.assertRaises(conversion.LayoutError) as ctx:
            conversion.hubert_bundle_tensors(bad, cfg)
        self.assertIn("layers.1.final_layer_norm.bias", str(ctx.exception))
        with self.assertRaises(ValueError):
            HubertConfig.from_hf(dict(cfg.to_hf(), hidden_act="relu"))


class FoldingTests(unittest.TestCase):
    def test_batchnorm_fold_matches_module(self):
        conv = torch.nn.Conv1d(6, 5, 3, padding=1, bias=False)
        bn = torch.nn.BatchNorm1d(5)
        with torch.no_grad():
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.3, 2.0)
            bn.weight.normal_()
            bn.bias.normal_()
        bn.eval()
        sd = {"1." + k: v for k, v in bn.state_dict().items()}
        w, b = conversion.fold_batchnorm(conv.weight.detach(), sd, "1.")
        x = torch.randn(1, 6, 11)
        self.assertLess(rel_max(torch.nn.functional.conv1d(x, w, b, padding=1), bn(conv(x)).detach()), 1e-6)

    def test_weight_norm_fold(self):
        conv = torch.nn.utils.weight_norm(torch.nn.Conv1d(8, 8, 4, groups=2), name="weight", dim=2)
        w = conversion.fold_weight_norm(conv.weight_g.detach(), conv.weight_v.detach())
        conv(torch.randn(1, 8, 6))  # recomputes conv.weight from g and v
        self.assertLess(rel_max(w, conv.weight.detach()), 1e-6)


if __name__ == "__main__":
    unittest.main()
