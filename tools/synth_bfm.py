#!/usr/bin/python3
"""Synthetic BFM files in the official formats, for tests (no real BFM data: the user's files are never shipped).

  /usr/bin/python3 -m tools.synth_bfm --bfm-dir DIR --upstream DIR [--front] [--rows 7 --cols 5] [--seed 0]

Writes into --bfm-dir the raw files of upstream's deep_3drecon/BFM (MATLAB v5 `01_MorphableModel.mat`,
`BFM_exp_idx.mat`, `BFM_front_idx.mat`, `facemodel_info.mat`; `Exp_Pca.bin` as int32 K + float32 mean + float32
PCs; `std_exp.txt`), with BFM's component counts (199 shape, 79 expression) but few vertices: the front model is a
rows × cols grid over a face-sized bump, embedded at shuffled positions among extra expression-model and full-model
vertices, so both index maps matter. With --front it also writes `BFM_model_front.mat`, computed here vertex by
vertex (a second formulation of transferBFM09, independent of tools/reference/face_model.py). Into
--upstream/deep_3drecon it writes `ncc_code.npy` and the two eye-face lists.
"""
import argparse
import os
import sys

import numpy as np

SHAPE_K, EXP_K = 199, 79


def grid_mesh(rows, cols):
    """Front-model vertices [rows*cols, 3] in decimetres (a bump facing +z) and 1-based triangles."""
    ys, xs = np.meshgrid(np.linspace(0.75, -0.85, rows), np.linspace(-0.7, 0.7, cols), indexing="ij")
    zs = 0.9 - 0.5 * (xs ** 2 + 0.6 * ys ** 2)
    verts = np.stack([xs, ys, zs], -1).reshape(-1, 3)
    tris = []
    for r in range(rows - 1):
        for c in range(cols - 1):
            a, b, d, e = r * cols + c, r * cols + c + 1, (r + 1) * cols + c, (r + 1) * cols + c + 1
            # Alternate the diagonal so triangle edges are not all parallel.
            tris += [[a, d, b], [b, d, e]] if (r + c) % 2 == 0 else [[a, d, e], [a, e, b]]
    return verts, np.asarray(tris, np.int64) + 1


def make(rows=7, cols=5, extra_exp=12, extra_full=17, seed=0):
    """Returns the raw file contents and their front model (computed vertex by vertex)."""
    rng = np.random.default_rng(seed)
    front, tri = grid_mesh(rows, cols)
    n = len(front)
    m, v = n + extra_exp, n + extra_exp + extra_full
    idx = rng.permutation(m)[:n] + 1                     # front vertex -> expression vertex (1-based)
    trim = rng.permutation(v)[:m] + 1                    # expression vertex -> BFM vertex (1-based)
    offset = np.array([0.13, -0.21, 0.37])               # the un-centred mean sits off the origin
    mu = (rng.normal(size=(v, 3)) * 0.5).astype(np.float32)
    for i in range(n):
        mu[trim[idx[i] - 1] - 1] = front[i] + offset
    shape_mu = (mu * 1e5).astype(np.float32).reshape(-1, 1)
    shape_pc = (rng.normal(size=(3 * v, SHAPE_K)) * 0.2).astype(np.float32)
    shape_ev = np.geomspace(3000.0, 20.0, SHAPE_K).astype(np.float32).reshape(-1, 1)
    exp_mu = rng.normal(size=3 * m).astype(np.float32)
    exp_pc = (rng.normal(size=(EXP_K, 3 * m)) * 0.3).astype(np.float32)
    std_exp = np.geomspace(8000.0, 50.0, EXP_K) * (1 + 0.1 * rng.random(EXP_K))
    keypoints = rng.integers(1, n, size=(68, 1)).astype(np.float64)   # .mat values: 1..n-1
    f = len(tri)
    eyes = rng.permutation(f)[:5] + 1
    left, right = np.sort(eyes[:2]).astype(np.int64), np.sort(eyes[2:]).astype(np.int64)
    lo, hi = front.min(0), front.max(0)
    ncc = ((front - lo) / (hi - lo)).T.astype(np.float32)  # [3, n], like upstream's normalised coordinates

    # transferBFM09, vertex by vertex (float32 shape arithmetic, float64 expression arithmetic as upstream).
    meanshape = np.zeros((1, 3 * n), np.float32)
    id_base = np.zeros((3 * n, 80), np.float32)
    ex_base = np.zeros((3 * n, 64), np.float64)
    for i in range(n):
        e = idx[i] - 1
        s = trim[e] - 1
        for c in range(3):
            meanshape[0, 3 * i + c] = shape_mu[3 * s + c, 0] / np.float32(1e5)
            for k in range(80):
                id_base[3 * i + c, k] = np.float32(shape_pc[3 * s + c, k] * shape_ev[k, 0]) / np.float32(1e5)
            for k in range(64):
                ex_base[3 * i + c, k] = np.float64(exp_pc[k, 3 * e + c]) * std_exp[k] / 1e5
    return {
        "shapeMU": shape_mu, "shapePC": shape_pc, "shapeEV": shape_ev, "exp_mu": exp_mu, "exp_pc": exp_pc,
        "std_exp": std_exp, "idx": idx.reshape(-1, 1).astype(np.float64), "trimIndex": trim.reshape(-1, 1).astype(np.float64),
        "tri": tri.astype(np.float64), "keypoints": keypoints, "left_eye": left, "right_eye": right, "ncc": ncc,
        "front": {"meanshape": meanshape, "idBase": id_base, "exBase": ex_base, "tri": tri.astype(np.float64),
                  "keypoints": keypoints},
    }


def write_exp_pca(path, mean, pcs):
    with open(path, "wb") as f:
        f.write(np.asarray([pcs.shape[0]], "<i4").tobytes())
        f.write(np.asarray(mean, "<f4").tobytes())
        f.write(np.asarray(pcs, "<f4").tobytes())


def write(bfm_dir, upstream_dir, front=False, **kw):
    import scipy.io

    s = make(**kw)
    os.makedirs(bfm_dir, exist_ok=True)
    # Texture and the photometric-fit masks are part of the official files (upstream's transferBFM09 reads them);
    # the face model does not use them, so they are filler of the right kind.
    v, n, f = len(s["shapeMU"]) // 3, s["ncc"].shape[1], len(s["tri"])
    scipy.io.savemat(os.path.join(bfm_dir, "01_MorphableModel.mat"),
                     {"shapeMU": s["shapeMU"], "shapePC": s["shapePC"], "shapeEV": s["shapeEV"],
                      "texMU": np.full((3 * v, 1), 128, np.float32), "texPC": np.ones((3 * v, SHAPE_K), np.float32),
                      "texEV": np.ones((SHAPE_K, 1), np.float32)})
    write_exp_pca(os.path.join(bfm_dir, "Exp_Pca.bin"), s["exp_mu"], s["exp_pc"])
    with open(os.path.join(bfm_dir, "std_exp.txt"), "w") as f:
        f.write(" ".join(repr(float(x)) for x in s["std_exp"]) + "\n")
    scipy.io.savemat(os.path.join(bfm_dir, "BFM_front_idx.mat"), {"idx": s["idx"]})
    scipy.io.savemat(os.path.join(bfm_dir, "BFM_exp_idx.mat"), {"trimIndex": s["trimIndex"]})
    scipy.io.savemat(os.path.join(bfm_dir, "facemodel_info.mat"), {
        "tri": s["tri"], "keypoints": s["keypoints"], "point_buf": np.ones((n, 8)), "tri_mask2": s["tri"],
        "frontmask2_idx": np.arange(1, n + 1, dtype=np.float64).reshape(-1, 1), "skinmask": np.ones((1, n))})
    if front:
        scipy.io.savemat(os.path.join(bfm_dir, "BFM_model_front.mat"), dict(
            s["front"], meantex=np.full((1, 3 * n), 128, np.float32), texBase=np.ones((3 * n, 80), np.float32)))
    d = os.path.join(upstream_dir, "deep_3drecon")
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "ncc_code.npy"), s["ncc"])
    np.save(os.path.join(d, "bfm_left_eye_faces.npy"), s["left_eye"])
    np.save(os.path.join(d, "bfm_right_eye_faces.npy"), s["right_eye"])
    return s


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bfm-dir", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--front", action="store_true", help="also write BFM_model_front.mat")
    ap.add_argument("--rows", type=int, default=7)
    ap.add_argument("--cols", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    write(a.bfm_dir, a.upstream, front=a.front, rows=a.rows, cols=a.cols, seed=a.seed)
    print(f"wrote synthetic BFM files to {a.bfm_dir} and {a.upstream}/deep_3drecon", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
