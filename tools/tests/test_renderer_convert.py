"""convert.py person: synthetic official-layout person checkpoint → complete bundle → functional reference equals
the module tree on the original checkpoint; refusals (missing key, wrong shape, unsupported switch, code in the
pickle, truncated file); renderer_frame.py input checks."""
import json
import os
import unittest

import numpy as np
import torch

from tools.tests._common import quiet, rel_max, tempdir
from tools import convert
from tools import synth_checkpoint as synth
from tools.reference import restricted_load, safetensors_io
from tools.reference import renderer_frame
from tools.reference.renderer import Renderer, input_shapes, random_inputs
from tools.reference.renderer_config import RendererConfig

CKPT = "model_ckpt_steps_10000.ckpt"


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def run_cli(*argv):
    with quiet() as err:
        rc = convert.main(list(argv))
    return rc, err.getvalue()


class OfficialLayoutTests(unittest.TestCase):
    def test_full_size_layout_has_the_spec_shapes_and_sizes(self):
        # Spec §6.3/§6.4 shapes at the official size (the layout itself was checked against upstream's modules
        # with strict loading by tools/upstream_oracle.py).
        from tools.reference.renderer_conversion import official_shapes
        s = official_shapes(RendererConfig(), {"secc": 2, "sr": 2, "decoder": 0})
        tm = "superresolution.torso_model."
        want = {
            "secc_img2plane_backbone.prenet.weight": [3, 9, 1, 1], "secc_img2plane_backbone.prenet.lora_A": [2, 9],
            "secc_img2plane_backbone.to_plane_cnn.7.conv.weight": [96, 256, 3, 3],
            "secc_img2plane_backbone.to_plane_cnn.7.lora_A": [6, 768],
            "secc_img2plane_backbone.to_plane_cnn.7.lora_B": [288, 6],
            "secc_img2plane_backbone.fuse_head.linear_fuse.conv.weight": [256, 1024, 1, 1],
            "decoder.net.0.weight": [64, 32], "decoder.net.2.weight": [33, 64],
            "superresolution.block0.conv0.weight": [256, 32, 3, 3], "superresolution.block1.conv1.noise_const": [512, 512],
            "superresolution.block0.conv0.affine.lora_B": [32, 2], "superresolution.block1.torgb.lora_B": [3, 2],
            tm + "appearance_extractor.in_conv.layers.0.weight": [64, 5, 7, 7],
            tm + "appearance_extractor.mid_conv.weight": [512, 256, 1, 1],
            tm + "motion_field_estimator.down.0.layers.0.layers.0.weight": [64, 25, 3, 3, 3],
            tm + "motion_field_estimator.tgt_head_fuser.weight": [32, 89, 7, 7, 7],
            tm + "motion_field_estimator.occlusion_conv2.weight": [1, 512, 7, 7],
            tm + "deform_based_generator.in_conv.layers.0.weight_orig": [256, 512, 3, 3],
            tm + "deform_based_generator.in_conv.layers.0.weight_v": [4608],
            tm + "occlusion_2_predictor.0.weight": [32, 65, 3, 3],
        }
        for k, v in want.items():
            self.assertEqual(s.get(k), v, k)
        self.assertNotIn("superresolution.head_torso_block.torgb.lora_A", s)
        # ConvLoRA lists its weight twice (weight and conv.weight): count it once
        count = lambda p: sum(int(np.prod(v)) for k, v in s.items()
                              if k.startswith(p) and not (".to_plane_cnn." in k and ".conv." in k))
        self.assertAlmostEqual(count("secc_img2plane_backbone.") / 1e6, 5.7, delta=0.1)   # spec §6.1
        self.assertAlmostEqual(count(tm) / 1e6, 48.5, delta=0.1)


class PersonConversionTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls._tmp = tempfile.TemporaryDirectory()
        cls.dir = os.path.join(cls._tmp.name, "person")
        cls.cfg = RendererConfig.small()
        cls.model, cls.tri, cls.person = synth.write_person(cls.dir, cls.cfg, seed=21)
        cls.model.eval()

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def edited_checkpoint(self, edit=None, config_edit=None):
        """A copy of the synthetic person directory with the checkpoint object and/or config.yaml edited."""
        d = os.path.join(tempdir(self), "person")
        os.makedirs(d)
        obj = torch.load(os.path.join(self.dir, CKPT))
        if edit:
            edit(obj)
        torch.save(obj, os.path.join(d, CKPT), _use_new_zipfile_serialization=False)
        with open(os.path.join(self.dir, "config.yaml")) as f:
            text = f.read()
        if config_edit:
            text = config_edit(text)
        with open(os.path.join(d, "config.yaml"), "w") as f:
            f.write(text)
        return d

    def refused(self, src, *needles):
        rc, err = run_cli("person", "--checkpoint", src, "--out", os.path.join(tempdir(self), "b"))
        self.assertEqual(rc, 2, err)
        for n in needles:
            self.assertIn(n, err)
        return err

    def test_round_trip_bundle_equals_module_tree_on_the_original_checkpoint(self):
        out = os.path.join(tempdir(self), "bundle")
        rc, err = run_cli("person", "--checkpoint", self.dir, "--out", out)
        self.assertEqual(rc, 0, err)
        self.assertIn("LoRA r=2", err)
        with open(os.path.join(out, "manifest.json")) as f:
            m = json.load(f)
        self.assertEqual((m["format"], m["version"], m["name"]), ("avatard-bundle", 1, "synthetic"))
        self.assertEqual(m["video"], {"width": 64, "height": 64, "fps": 25})
        self.assertNotIn("motion_model", m)                              # a renderer-only bundle
        self.assertEqual((m["renderer"]["kind"], m["identity"]["kind"]), ("mimictalk_renderer", "mimictalk_person"))
        cfg = m["renderer"]["config"]
        self.assertEqual(cfg["head_threshold"], 1.0)                      # config.yaml says 0.9: inference uses 1.0
        self.assertEqual(len(cfg["source"]["sha256"]), 64)
        tensors = safetensors_io.read(os.path.join(out, "renderer.safetensors"))
        ident = safetensors_io.read(os.path.join(out, "identity.safetensors"))
        self.assertEqual({k: list(v.shape) for k, v in tensors.items()}, m["renderer"]["tensors"])
        self.assertEqual({k: list(v.shape) for k, v in ident.items()}, m["identity"]["tensors"])
        self.assertTrue(all(v.dtype == torch.float32 for v in tensors.values()))
        self.assertFalse(any(k.startswith(("cano_img2plane", "lambda_")) or "lora_" in k or "affine" in k
                             or "noise" in k or "running_" in k or k.endswith("weight_orig") for k in tensors))
        self.assertTrue(torch.equal(ident["gt_img"], self.person["gt_img"]))

        cfg = RendererConfig.from_manifest(m["renderer"]["config"])
        self.assertEqual(cfg, self.cfg)
        inputs = random_inputs(cfg, seed=22)
        g = torch.Generator().manual_seed(23)
        sh = input_shapes(cfg)
        rs, ri = torch.rand(sh["rand_stratified"], generator=g), torch.rand(sh["rand_importance"], generator=g)
        with torch.no_grad():
            got = Renderer(cfg, tensors).frame(inputs, rs, ri)
            want = self.model(self.tri, inputs, rs, ri)
        self.assertLess(rel_max(got["image"], want["image"]), 5e-6)
        self.assertLess(rel_max(got["feature_image"], want["feature_image"]), 5e-6)

        # renderer_frame.py on the bundle (files in, files out) gives the same image.
        ind = os.path.join(tempdir(self), "inputs")
        renderer_frame.write_inputs(ind, dict(inputs, rand_stratified=rs, rand_importance=ri))
        of, dump = os.path.join(tempdir(self), "frame.npy"), os.path.join(tempdir(self), "dump")
        with quiet():
            self.assertEqual(renderer_frame.main(["--bundle", out, "--inputs", ind, "--out", of, "--dump", dump]), 0)
        self.assertLess(rel_max(torch.from_numpy(np.load(of)), want["image"]), 5e-6)
        for k in ("planes", "feature_image", "weights_image", "depth_image", "torso_alpha", "sr_image", "image_uint8"):
            self.assertTrue(os.path.isfile(os.path.join(dump, k + ".npy")), k)

    def test_frame_inputs_are_checked_by_name_shape_and_dtype(self):
        cfg = self.cfg
        ind = os.path.join(tempdir(self), "inputs")
        renderer_frame.write_inputs(ind, random_inputs(cfg, seed=3))
        of = os.path.join(tempdir(self), "f.npy")
        args = ["--checkpoint", self.dir, "--inputs", ind, "--out", of]
        np.save(os.path.join(ind, "camera.npy"), np.zeros((1, 25), np.float64))
        with quiet() as err:
            self.assertEqual(renderer_frame.main(args), 2)
        self.assertIn("camera.npy: dtype <f8", err.getvalue())
        np.save(os.path.join(ind, "camera.npy"), np.zeros((1, 24), np.float32))
        with quiet() as err:
            self.assertEqual(renderer_frame.main(args), 2)
        self.assertIn("camera.npy: shape [1, 24], expected [1, 25]", err.getvalue())
        os.remove(os.path.join(ind, "camera.npy"))
        np.save(os.path.join(ind, "camra.npy"), np.zeros((1, 25), np.float32))
        with quiet() as err:
            self.assertEqual(renderer_frame.main(args), 2)
        self.assertIn("camra.npy: unknown input name", err.getvalue())

    def test_missing_key_is_refused_by_name(self):
        key = "superresolution.torso_model.deform_based_generator.res.1.layers.0.layers.2.weight_u"
        d = self.edited_checkpoint(lambda o: o["state_dict"]["model"].pop(key))
        self.refused(d, f"missing key '{key}'")

    def test_wrong_shape_is_refused_with_both_shapes(self):
        key = "secc_img2plane_backbone.fuse_head.linear_c2.proj.weight"

        def edit(o):
            o["state_dict"]["model"][key] = torch.zeros(16, 15)
        err = self.refused(self.edited_checkpoint(edit), key, "[16, 15]", "expected [16, 16]")
        self.assertNotIn("Traceback", err)

    def test_unsupported_switches_are_refused_naming_the_config_value(self):
        d = self.edited_checkpoint(config_edit=lambda t: t.replace("htbsr_head_weight_fuse_mode: v2",
                                                                    "htbsr_head_weight_fuse_mode: v3"))
        self.refused(d, "htbsr_head_weight_fuse_mode = 'v3' is not supported")
        d = self.edited_checkpoint(config_edit=lambda t: t.replace("torso_inp_mode: rgb_alpha", "torso_inp_mode: rgb"))
        self.refused(d, "appearance_extractor.in_conv.layers.0.weight", "[8, 5, 7, 7]", "torso_inp_mode = 'rgb'")
        d = self.edited_checkpoint(config_edit=lambda t: t.replace("phase1_plane_fusion_mode: add",
                                                                    "phase1_plane_fusion_mode: mul"))
        self.refused(d, "phase1_plane_fusion_mode = 'mul'")

        def deeper(o):
            o["state_dict"]["learnable_triplane"] = torch.zeros(1, 3, 3 * self.cfg.hid, 32, 32)
        self.refused(self.edited_checkpoint(deeper), "learnable_triplane", "depth 3",
                     "config.yaml triplane_depth = 1")

    def test_pickle_that_runs_code_is_refused_and_nothing_runs(self):
        d = tempdir(self)
        marker = os.path.join(d, "pwned")
        obj = torch.load(os.path.join(self.dir, CKPT))
        obj["person_ds"]["video_id"] = Evil(marker)
        os.makedirs(os.path.join(d, "p"))
        torch.save(obj, os.path.join(d, "p", CKPT), _use_new_zipfile_serialization=False)
        self.refused(os.path.join(d, "p"), "refusing to unpickle global", "posix.system")
        self.assertFalse(os.path.exists(marker))

    def test_truncated_checkpoint_is_refused(self):
        d = os.path.join(tempdir(self), "p")
        os.makedirs(d)
        with open(os.path.join(self.dir, CKPT), "rb") as f:
            data = f.read()
        with open(os.path.join(d, CKPT), "wb") as f:
            f.write(data[:len(data) - 1000])
        self.refused(d, "truncated")

    def test_optimizer_states_and_img2plane_are_never_materialised(self):
        from tools import convert as c
        obj = restricted_load.load(os.path.join(self.dir, CKPT), select=c._keep_person_tensor)
        self.assertIsNone(obj["state_dict"]["model"]["cano_img2plane_backbone.token"])
        states = obj["optimizer_states"][0]["state"]
        self.assertTrue(all(v["exp_avg"] is None for v in states.values()))
        self.assertIsInstance(obj["state_dict"]["learnable_triplane"], torch.Tensor)


if __name__ == "__main__":
    unittest.main()
