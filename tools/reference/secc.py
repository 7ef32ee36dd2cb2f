"""SECC maps of a BFM face model (spec §4.2, §1.3 step 8), float64 numpy reference.

Conventions, each as upstream has it (deep_3drecon/secc_renderer.py, util/mesh_renderer.py, bfm.py):
- Vertices V = mean + id_basis·id + exp_basis·exp in the canonical pose (euler = 0, trans = 0): SECC never carries
  head pose, the NeRF camera does.
- Camera space z' = 10 − z; upstream negates x and rasterises with PyTorch3D FoVPerspectiveCameras(fov =
  2·atan(112/1015), R = I, T = 0), whose NDC +X points left. Together that is the pinhole
  u = S/2 + f·x/z', v = S/2 − f·y/z' with f = 1015·S/224 (model +x on the image right), which is what
  tools/demo/raster_ref.py rasterises (pixel centres, either winding, nearest depth, ties to the lowest face).
- Faces: the face model's `secc_triangles` (BFM `tri` minus the left/right eye faces, order kept): the eyes
  are holes.
- Colour: per-vertex `ncc` interpolated with perspective-correct barycentrics, then (c − 0.5)/0.5;
  background −1. Output float32 [3, S, S].
- Upstream quirk (optional here): `mask = pix_to_face > 0`, so the first face of the first mesh of a batch is
  background. Upstream renders cano and src as batches of one (always affected) and the driving frames in chunks
  of 50 (frames 0, 50, 100, … affected). `triplet` applies it where upstream does when `upstream_quirk` is set.
"""
import numpy as np

from tools.demo.raster_ref import interpolate, rasterize

UPSTREAM_CHUNK = 50


def vertices(model, id_coef=None, exp_coef=None):
    """[N,3] float64 canonical-pose vertices (missing coefficients are zero)."""
    v = np.asarray(model["mean_shape"], np.float64).reshape(-1)
    if id_coef is not None:
        v = v + np.asarray(model["id_basis"], np.float64) @ np.asarray(id_coef, np.float64).reshape(-1)
    if exp_coef is not None:
        v = v + np.asarray(model["exp_basis"], np.float64) @ np.asarray(exp_coef, np.float64).reshape(-1)
    return v.reshape(-1, 3)


def secc_faces(model, id_coef, exp_coef, size, drop_first_face=False):
    """Face index map [S,S] (into secc_triangles, −1 = background) and barycentrics [S,S,3]."""
    faces = np.asarray(model["secc_triangles"], np.int64)
    face, bary, _ = rasterize(vertices(model, id_coef, exp_coef), faces, size, size)
    if drop_first_face:
        face = np.where(face == 0, -1, face)
    return face, bary


def secc_map(model, id_coef, exp_coef, size, drop_first_face=False):
    """SECC [3,S,S] float32 in [−1, 1], background −1."""
    face, bary = secc_faces(model, id_coef, exp_coef, size, drop_first_face)
    img = interpolate(np.asarray(model["ncc"], np.float64), np.asarray(model["secc_triangles"], np.int64), face, bary)
    secc = np.where((face >= 0)[..., None], (img - 0.5) / 0.5, -1.0)
    return secc.transpose(2, 0, 1).astype(np.float32)


def triplet(model, id_coef, exp_seq, size, upstream_quirk=True):
    """cano = SECC(id, 0), src = SECC(id, exp[0]) (the first predicted row), tgt[t] = SECC(id, exp[t])."""
    exp_seq = np.asarray(exp_seq, np.float64).reshape(-1, model["exp_basis"].shape[1])
    cano = secc_map(model, id_coef, None, size, upstream_quirk)
    src = secc_map(model, id_coef, exp_seq[0], size, upstream_quirk)
    tgt = np.stack([secc_map(model, id_coef, e, size, upstream_quirk and t % UPSTREAM_CHUNK == 0)
                    for t, e in enumerate(exp_seq)])
    return cano, src, tgt
