#!/usr/bin/python3
"""Writes Tests/Fixtures/face/: small goldens of the MimicTalk avatar references for the Swift port.

  /usr/bin/python3 -m tools.make_face_fixtures [--out DIR]

- face_tiny.safetensors: a face model converted by `convert.py face-model` from synthetic BFM files
  (tools/synth_bfm.py, 9 × 7 grid: 63 vertices, 96 triangles, 5 eye faces), the project format of a real one.
- secc.safetensors: SECC maps (tools/reference/secc.py) at sizes 37 and 24 for an identity and 3 expression
  rows: cano, src, tgt with upstream's first-face quirk where upstream has it, and the face index maps.
- keypoints.safetensors: lm68 torso keypoints (raw and smoothed) for 9 frames and for the 3-frame minimum.
- camera.safetensors: a 5-frame pose track, the ping-pong pose sequence of 13 frames (indices, euler, trans),
  raw and utterance-smoothed EG3D cameras, live cameras for frames 6…14, and a static pose.
Inputs are float32 values; outputs are the float64 references rounded to float32. Deterministic: rerunning
gives the same bytes (a test checks).
"""
import argparse
import os
import sys
import tempfile

import numpy as np

from tools import synth_bfm
from tools.reference import face_model, face_pose, safetensors_io, secc

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "face")
SECC_SIZES = (37, 24)


def f32(x):
    return np.asarray(x, np.float64).astype(np.float32)


def build_model(out):
    with tempfile.TemporaryDirectory() as d:
        synth_bfm.write(os.path.join(d, "bfm"), os.path.join(d, "up"), rows=9, cols=7, seed=5)
        face_model.convert(os.path.join(d, "bfm"), os.path.join(d, "up"), d)
        model = face_model.load(os.path.join(d, face_model.WEIGHTS))
    safetensors_io.save_arrays(os.path.join(out, "face_tiny.safetensors"), model, face_model.metadata())
    return model


def secc_fixture(model, rng):
    id_coef = f32(rng.normal(size=80) * 0.8)
    exp = f32(rng.normal(size=(3, 64)) * 0.6)
    t = {"id": id_coef, "exp": exp}
    for size in SECC_SIZES:
        cano, src, tgt = secc.triplet(model, id_coef, exp, size, upstream_quirk=True)
        t[f"s{size}.cano"], t[f"s{size}.src"], t[f"s{size}.tgt"] = cano, src, tgt
        t[f"s{size}.cano_face"] = secc.secc_faces(model, id_coef, None, size, True)[0].astype(np.int32)
        t[f"s{size}.src_face"] = secc.secc_faces(model, id_coef, exp[0], size, True)[0].astype(np.int32)
        t[f"s{size}.tgt_face"] = np.stack([secc.secc_faces(model, id_coef, e, size, i % secc.UPSTREAM_CHUNK == 0)[0]
                                           for i, e in enumerate(exp)]).astype(np.int32)
    meta = {"sizes": ",".join(map(str, SECC_SIZES)),
            "quirk": "face 0 of secc_triangles is background in cano, src and tgt frame 0 (upstream pix_to_face > 0)",
            "faces": "index into secc_triangles, -1 background"}
    return t, meta


def keypoint_fixture(model, rng):
    t = {}
    for name, n in (("t9", 9), ("t3", 3)):
        id_coef = f32(rng.normal(size=80) * 0.8)
        exp = f32(rng.normal(size=(n, 64)) * 0.6)
        euler = f32(rng.normal(size=(n, 3)) * [0.15, 0.3, 0.1])
        trans = f32(rng.normal(size=(n, 3)) * [0.05, 0.05, 0.2])
        kp = face_pose.torso_keypoints(model, id_coef, exp, euler, trans)
        t.update({f"{name}.id": id_coef, f"{name}.exp": exp, f"{name}.euler": euler, f"{name}.trans": trans,
                  f"{name}.kp": f32(kp), f"{name}.kp_smooth": f32(face_pose.smooth_keypoints(kp))})
    return t, {"layout": "kp [T,68,2] in [-1,1] (x right, y down); indices = lm68_torso_vertices (upstream)"}


def camera_fixture(rng):
    track_e = f32(rng.normal(size=(5, 3)) * [0.15, 0.3, 0.1])
    track_t = f32(rng.normal(size=(5, 3)) * [0.05, 0.05, 0.2])
    ref_e, ref_t = f32([0.02, -0.05, 0.01]), f32([0.01, -0.02, 0.35])
    n = 13
    euler, trans = face_pose.pose_sequence(n, ref_e, ref_t, track_e, track_t)
    t = {"track_euler": track_e, "track_trans": track_t, "ref_euler": ref_e, "ref_trans": ref_t,
         "index": np.array([face_pose.mirror_index(i, len(track_e)) for i in range(n)], np.int32),
         "euler": f32(euler), "trans": f32(trans),
         "camera_raw": f32(face_pose.eg3d_camera(euler, trans)),
         "camera_utterance": f32(face_pose.utterance_cameras(n, ref_e, ref_t, track_e, track_t)),
         "camera_live_6_9": f32(face_pose.live_cameras(6, 9, ref_e, ref_t, track_e, track_t)),
         "camera_static_4": f32(face_pose.utterance_cameras(4, ref_e, ref_t))}
    return t, {"layout": "camera [T,25] = c2w 4x4 row-major + normalised K 3x3; map_to_init on; live = frames 6..14"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=OUT)
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(2024)
    model = build_model(a.out)
    for name, (tensors, meta) in (("secc", secc_fixture(model, rng)), ("keypoints", keypoint_fixture(model, rng)),
                                  ("camera", camera_fixture(rng))):
        path = os.path.join(a.out, name + ".safetensors")
        safetensors_io.save_arrays(path, tensors, meta)
        print(f"{path} {os.path.getsize(path)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
