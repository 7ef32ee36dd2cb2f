#!/usr/bin/python3
"""Write the small golden files under Tests/Fixtures/demo/ (run from anywhere; deterministic).

face_tiny.safetensors   the demo head at --res tiny (same format as the full model)
secc_golden.safetensors SECC maps of face_tiny for a few coefficient sets (64² and 128²),
                        plus a single-triangle convention case. Tensor names:
  case{k}_id F32[K_id], case{k}_exp F32[K_exp], case{k}_secc{S} F32[3,S,S]
  tri_vertices F32[4,3], tri_triangles I32[2,3], tri_ncc F32[4,3], tri_eye_faces I32[1], tri_secc16 F32[3,16,16]
pose_golden.safetensors posed vertices of face_tiny (raster_ref.pose_vertices, float64 math) and the SECC map of
                        the posed vertices, for a few expressions and head rotations. Tensor names:
  pose{k}_exp F32[K_exp], pose{k}_angles F32[3] (head_pitch, head_yaw, head_roll; 1 = 10°),
  pose{k}_vertices F32[N,3], pose{k}_secc64 F32[3,64,64]
"""
import os

import numpy as np

from tools.demo import make_head
from tools.demo import raster_ref
from tools.reference import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))

FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "Tests", "Fixtures", "demo"))

CASES = [
    ({}, {}, (64, 128)),
    ({"head_width": 1.0, "nose_length": -1.0}, {"jaw_open": 0.8, "smile_left": 0.5, "blink_right": 1.0}, (64, 128)),
    ({"jaw_width": -1.5}, {"lip_pucker": 0.9, "lip_funnel": 0.5, "brow_raise": 1.0, "eyes_left": 0.6}, (64,)),
]


POSE_CASES = [
    ({"jaw_open": 0.4}, (1.5, 0.0, 0.0)),
    ({"smile_left": 0.6, "eyes_left": 0.5, "blink_right": 0.7}, (-0.8, 2.0, 1.0)),
]


def pose_goldens(t):
    out = {}
    for k, (expc, angles) in enumerate(POSE_CASES):
        ce = raster_ref.coef_vector(make_head.EXP_NAMES, expc).astype(np.float32)
        a = np.array(angles, np.float32)
        V = raster_ref.pose_vertices(make_head.expressed(t, None, ce), t, a)
        out[f"pose{k}_exp"], out[f"pose{k}_angles"] = ce, a
        out[f"pose{k}_vertices"] = V.astype(np.float32)
        out[f"pose{k}_secc64"] = raster_ref.secc_map(V, t["triangles"], t["ncc"], t["eye_faces"], 64, 64)
    return out


def triangle_case():
    """Two triangles at known depths: a large one behind, an 'eye' one in front (-> hole)."""
    V = np.array([[-0.8, -0.7, 0.0], [0.9, -0.6, 0.5], [0.0, 0.9, -0.5], [-0.1, 0.0, 2.0]], np.float32)
    F = np.array([[0, 1, 2], [3, 1, 2]], np.int32)
    ncc = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5]], np.float32)
    eye = np.array([1], np.int32)
    secc = raster_ref.secc_map(V.astype(np.float64), F, ncc, eye, 16, 16)
    return {"tri_vertices": V, "tri_triangles": F, "tri_ncc": ncc, "tri_eye_faces": eye, "tri_secc16": secc}


def goldens(t):
    out = {}
    id_names = [n for n, _, _ in make_head.ID_DIMS]
    for k, (idc, expc, sizes) in enumerate(CASES):
        ci = raster_ref.coef_vector(id_names, idc).astype(np.float32)
        ce = raster_ref.coef_vector(make_head.EXP_NAMES, expc).astype(np.float32)
        out[f"case{k}_id"], out[f"case{k}_exp"] = ci, ce
        V = make_head.expressed(t, ci, ce)
        for S in sizes:
            out[f"case{k}_secc{S}"] = raster_ref.secc_map(V, t["triangles"], t["ncc"], t["eye_faces"], S, S)
    return out


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    M = make_head.build_model("tiny")
    t, meta = make_head.to_tensors(M)
    safetensors_io.save_arrays(os.path.join(FIXTURES, "face_tiny.safetensors"), t, meta)
    g = goldens(t)
    g.update(triangle_case())
    safetensors_io.save_arrays(os.path.join(FIXTURES, "secc_golden.safetensors"), g, {
        "model": "face_tiny.safetensors", "conventions": "tools/demo/raster_ref.py docstring",
        "cases": repr([(c[0], c[1]) for c in CASES])})
    safetensors_io.save_arrays(os.path.join(FIXTURES, "pose_golden.safetensors"), pose_goldens(t), {
        "model": "face_tiny.safetensors", "pose": "tools/demo/raster_ref.py pose_vertices",
        "cases": repr(POSE_CASES)})
    for f in ("face_tiny.safetensors", "secc_golden.safetensors", "pose_golden.safetensors"):
        p = os.path.join(FIXTURES, f)
        print(p, os.path.getsize(p))


if __name__ == "__main__":
    main()
