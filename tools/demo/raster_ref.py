#!/usr/bin/python3
"""CPU reference rasterizer (numpy) for SECC maps and the shaded demo preview.

This is the reference the Swift/Vulkan rasterizer is tested against. Conventions (spec §4.2):

* Canonical pose: vertices V = mean + id_basis·id + exp_basis·exp, no rotation, no translation.
* View depth z' = 10 − z. Pinhole with f = 1015·W/224 (and the same f for H), principal point (W/2, H/2):
      u = W/2 + f·x/z'     v = H/2 − f·y/z'
  using the model's x (+x = subject's left appears on the image right). This is what PyTorch3D gives
  after SECC's x negation and its own +X-left NDC convention.
* Pixel (row i, column j) covers [j, j+1) × [i, i+1) and is sampled at its centre (j + 0.5, i + 0.5).
* Coverage: a pixel centre is inside a triangle when all three barycentrics are ≥ 0 (edges and
  vertices inclusive, either winding: no culling). Triangles with zero screen area or a vertex with
  z' ≤ 0 are skipped.
* Barycentrics are perspective-correct: b_i ∝ λ_i / z'_i, with λ the screen-space barycentrics.
  Depth z' = 1 / Σ λ_i / z'_i. Nearest depth wins; exact depth ties go to the lowest face index.
* Excluded faces (eye faces): they take part in the depth test, and a pixel whose nearest face is
  excluded is background. (For the BFM front model, which has nothing behind its eyes in the
  canonical pose, this equals removing the faces as the Python reference does; for the closed demo
  head it keeps the eyes as holes.) No face-index-0 quirk (§4.2 `pix_to_face > 0`) is reproduced.
* SECC = (ncc_interpolated − 0.5)/0.5 where covered, −1 elsewhere; float32 [3, H, W].
Arithmetic is float64 here; a float32 GPU implementation matches except on a few silhouette /
shared-edge pixels, so compare with a tolerance plus a small budget of mismatching pixels.
"""
import math
import os
import struct
import zlib

import numpy as np


CAMERA_DISTANCE = 10.0
FOCAL_224 = 1015.0


def project(V, W, H, focal_224=FOCAL_224, distance=CAMERA_DISTANCE, cx=None, cy=None):
    f = focal_224 * W / 224.0
    zp = distance - V[:, 2]
    cx = W / 2.0 if cx is None else cx
    cy = H / 2.0 if cy is None else cy
    u = cx + f * V[:, 0] / zp
    v = cy - f * V[:, 1] / zp
    return u, v, zp


def rasterize(V, F, W, H, **cam):
    """Return face index [H,W] (−1 = none), perspective-correct barycentrics [H,W,3], depth [H,W]."""
    V = np.asarray(V, np.float64)
    F = np.asarray(F, np.int64)
    u, v, zp = project(V, W, H, **cam)
    U, Vv, Z = u[F], v[F], zp[F]  # [T,3]
    area = (U[:, 1] - U[:, 0]) * (Vv[:, 2] - Vv[:, 0]) - (Vv[:, 1] - Vv[:, 0]) * (U[:, 2] - U[:, 0])
    x0 = np.ceil(U.min(1) - 0.5).astype(np.int64)
    x1 = np.floor(U.max(1) - 0.5).astype(np.int64)
    y0 = np.ceil(Vv.min(1) - 0.5).astype(np.int64)
    y1 = np.floor(Vv.max(1) - 0.5).astype(np.int64)
    x0, y0 = np.maximum(x0, 0), np.maximum(y0, 0)
    x1, y1 = np.minimum(x1, W - 1), np.minimum(y1, H - 1)
    ok = (area != 0) & (Z.min(1) > 0) & (x1 >= x0) & (y1 >= y0)
    size = np.maximum(x1 - x0 + 1, y1 - y0 + 1)
    frag_pix, frag_z, frag_f, frag_b = [], [], [], []
    tri_ids = np.where(ok)[0]
    bucket = np.ceil(np.log2(np.maximum(size[tri_ids], 1))).astype(int)
    for bk in np.unique(bucket):
        S = 1 << int(bk)
        ids_all = tri_ids[bucket == bk]
        oy, ox = np.mgrid[0:S, 0:S]
        ox, oy = ox.ravel(), oy.ravel()
        chunk = max(1, 2_000_000 // (S * S))
        for s in range(0, ids_all.size, chunk):
            ids = ids_all[s:s + chunk]
            px = x0[ids, None] + ox[None, :]
            py = y0[ids, None] + oy[None, :]
            inb = (px <= x1[ids, None]) & (py <= y1[ids, None])
            cxp, cyp = px + 0.5, py + 0.5
            u0, u1, u2 = U[ids, 0:1], U[ids, 1:2], U[ids, 2:3]
            v0, v1, v2 = Vv[ids, 0:1], Vv[ids, 1:2], Vv[ids, 2:3]
            ar = area[ids, None]
            l0 = ((u1 - cxp) * (v2 - cyp) - (v1 - cyp) * (u2 - cxp)) / ar
            l1 = ((u2 - cxp) * (v0 - cyp) - (v2 - cyp) * (u0 - cxp)) / ar
            l2 = 1.0 - l0 - l1
            l2 = ((u0 - cxp) * (v1 - cyp) - (v0 - cyp) * (u1 - cxp)) / ar
            inside = inb & (l0 >= 0) & (l1 >= 0) & (l2 >= 0)
            if not inside.any():
                continue
            ti, ci = np.nonzero(inside)
            tid = ids[ti]
            lam = np.stack([l0[ti, ci], l1[ti, ci], l2[ti, ci]], -1)
            q = lam / Z[tid]
            s_ = q.sum(1)
            frag_b.append(q / s_[:, None])
            frag_z.append(1.0 / s_)
            frag_f.append(tid)
            frag_pix.append(py[ti, ci] * W + px[ti, ci])
    face = np.full(H * W, -1, np.int64)
    bary = np.zeros((H * W, 3))
    depth = np.full(H * W, np.inf)
    if frag_pix:
        pix = np.concatenate(frag_pix)
        z = np.concatenate(frag_z)
        fid = np.concatenate(frag_f)
        b = np.concatenate(frag_b)
        order = np.lexsort((fid, z, pix))
        pix_s = pix[order]
        first = np.ones(pix_s.size, bool)
        first[1:] = pix_s[1:] != pix_s[:-1]
        sel = order[first]
        face[pix[sel]] = fid[sel]
        bary[pix[sel]] = b[sel]
        depth[pix[sel]] = z[sel]
    return face.reshape(H, W), bary.reshape(H, W, 3), depth.reshape(H, W)


def interpolate(attr, F, face, bary):
    """Per-pixel attribute [H,W,C] from per-vertex attr [N,C]; zeros where face < 0."""
    H, W = face.shape
    out = np.zeros((H, W, attr.shape[1]))
    m = face >= 0
    tri = F[face[m]]
    out[m] = np.einsum("pk,pkc->pc", bary[m], attr[tri])
    return out


def secc_map(V, F, ncc, eye_faces, W, H):
    """SECC map [3,H,W] float32 in [−1,1], background −1."""
    face, bary, _ = rasterize(V, F, W, H)
    if len(eye_faces):
        is_eye = np.zeros(len(F) + 1, bool)
        is_eye[np.asarray(eye_faces)] = True
        face = np.where(is_eye[face], -1, face)  # face −1 indexes the trailing False
    img = interpolate(np.asarray(ncc, np.float64), np.asarray(F), face, bary)
    m = (face >= 0)[..., None]
    secc = np.where(m, (img - 0.5) / 0.5, -1.0)
    return secc.transpose(2, 0, 1).astype(np.float32)


# ------------------------------------------------------------------------------------------
# Head pose (docs/demo-avatar.md §1): rotation about the face model's pose_pivot, blended per vertex
# ------------------------------------------------------------------------------------------

POSE_NAMES = ("head_pitch", "head_yaw", "head_roll")
POSE_UNIT_DEGREES = 10.0  # motion value 1 = 10°


def head_rotation(pitch, yaw, roll):
    """R = R_yaw · R_pitch · R_roll (radians), each right-handed about the model's axes: pitch about +x
    (positive moves the nose, +z, down: a nod), yaw about +y (positive turns the nose towards +x), roll about
    +z (positive tilts the top of the head towards −x)."""
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    cr, sr = math.cos(roll), math.sin(roll)
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return ry @ rx @ rz


def pose_vertices(V, t, angles):
    """v' = v + w·(R(v − p) − (v − p)) with p = pose_pivot, w = pose_weight; `angles` = (head_pitch, head_yaw,
    head_roll) in motion units (1 = 10°). float64."""
    a = np.radians(np.asarray(angles, np.float64) * POSE_UNIT_DEGREES)
    R = head_rotation(*a)
    p = np.asarray(t["pose_pivot"], np.float64)
    w = np.asarray(t["pose_weight"], np.float64)[:, None]
    d = np.asarray(V, np.float64) - p
    return V + w * (d @ R.T - d)


def secc_from_model(t, id_coef=None, exp_coef=None, size=64):
    from tools.demo.make_head import expressed
    V = expressed(t, id_coef, exp_coef)
    return secc_map(V, t["triangles"], t["ncc"], t["eye_faces"], size, size)


# ------------------------------------------------------------------------------------------
# Shaded preview
# ------------------------------------------------------------------------------------------

PREVIEW_CAMERA = dict(focal_224=800.0)  # wider than the SECC camera so head and neck are in frame
PREVIEW_CENTER_Y = -0.10                 # model y placed at the image centre (preview only)


def vertex_normals(V, F):
    a, b, c = V[F[:, 0]], V[F[:, 1]], V[F[:, 2]]
    fn = np.cross(b - a, c - a)
    vn = np.zeros_like(V)
    for k in range(3):
        np.add.at(vn, F[:, k], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


def _srgb_to_lin(c):
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lin_to_srgb(c):
    c = np.clip(c, 0, 1)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def shade(V, t, W, H, ss=2, background=(0.80, 0.83, 0.86), camera=None):
    """Lambert (wrapped) + Blinn-Phong preview, per-region material colours; uint8 [H,W,3]."""
    F = np.asarray(t["triangles"], np.int64)
    cam = dict(PREVIEW_CAMERA if camera is None else camera)
    Ws, Hs = W * ss, H * ss
    f = cam.get("focal_224", FOCAL_224) * Ws / 224.0
    dist = CAMERA_DISTANCE
    cy = Hs / 2.0 + f * cam.get("center_y", PREVIEW_CENTER_Y) / (dist - 0.3)
    face, bary, depth = rasterize(V, F, Ws, Hs, focal_224=cam.get("focal_224", FOCAL_224), cy=cy)
    reg = t["vertex_region"]
    if "vertex_color" in t:
        alb = _srgb_to_lin(t["vertex_color"].astype(np.float64))
    else:
        alb = _srgb_to_lin(t["region_colors"][reg].astype(np.float64))
    spec = t["region_specular"][reg].astype(np.float64)[:, None]
    vn = vertex_normals(V, F)
    names = None
    m = face >= 0
    N = interpolate(vn, F, face, bary)
    P = interpolate(V, F, face, bary)
    A = interpolate(alb, F, face, bary)
    S = interpolate(spec, F, face, bary)[..., 0]
    del names
    N /= np.maximum(np.linalg.norm(N, axis=-1, keepdims=True), 1e-12)
    view = np.array([0, 0, dist]) - P
    view /= np.maximum(np.linalg.norm(view, axis=-1, keepdims=True), 1e-12)
    flip = (N * view).sum(-1) < 0
    N[flip] *= -1
    lights = [((-0.5, 0.55, 0.75), 0.95, (1.0, 0.97, 0.92)), ((0.7, 0.1, 0.6), 0.35, (0.85, 0.9, 1.0)),
              ((0.1, 0.5, -0.9), 0.35, (1.0, 1.0, 1.0))]
    col = np.zeros(P.shape)
    amb = 0.20 + 0.08 * N[..., 1:2]
    col += A * amb
    for d, inten, lc in lights:
        L = np.array(d) / np.linalg.norm(d)
        ndl = (N * L).sum(-1)
        diff = np.clip((ndl + 0.25) / 1.25, 0, None)
        Hh = L + view
        Hh /= np.linalg.norm(Hh, axis=-1, keepdims=True)
        sp = np.clip((N * Hh).sum(-1), 0, None) ** 40 * S * (ndl > 0)
        col += inten * np.array(lc) * (A * diff[..., None] + sp[..., None])
    # darken the mouth interior with depth behind the lips (cheap occlusion)
    region_pix = interpolate(np.eye(len(t["region_colors"]))[reg], F, face, bary).argmax(-1)
    lips = reg == 1
    z_lip = V[lips, 2].max() if lips.any() else V[:, 2].max()
    inner = np.isin(region_pix, [2, 3, 4]) & m
    occ = np.clip(1 - (z_lip - P[..., 2]) / 0.7, 0.3, 1.0) ** 1.3
    col = np.where(inner[..., None], col * occ[..., None], col)
    yy = np.linspace(0, 1, Hs)[:, None, None]
    bg = _srgb_to_lin(np.array(background)) * (1.05 - 0.25 * yy)
    col = np.where(m[..., None], col, bg)
    img = _lin_to_srgb(col)
    img = img.reshape(H, ss, W, ss, 3).mean((1, 3))
    return (img * 255 + 0.5).astype(np.uint8)


def write_png(path, img):
    """Write an 8-bit RGB (H,W,3) or grey (H,W) PNG with zlib (filter 0 on every row)."""
    img = np.ascontiguousarray(img, np.uint8)
    H, W = img.shape[:2]
    ct = 2 if img.ndim == 3 else 0
    raw = b"".join(b"\x00" + img[i].tobytes() for i in range(H))

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, ct, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def secc_to_png(secc):
    return ((np.clip(secc, -1, 1) + 1) / 2 * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0)


PREVIEW_POSES = {
    "neutral": {},
    "jaw_open": {"jaw_open": 1.0},
    "aa": {"jaw_open": 0.8, "lip_stretch": 0.3, "upper_lip_raise": 0.3},
    "smile": {"smile_left": 1.0, "smile_right": 1.0, "cheek_puff": 0.0},
    "oo": {"lip_pucker": 0.8, "lip_funnel": 0.6, "jaw_open": 0.25},
    "ff": {"lower_lip_tuck": 1.0, "upper_lip_raise": 0.4, "jaw_open": 0.1},
    "mbp": {"lips_pressed": 1.0},
    "blink": {"blink_left": 1.0, "blink_right": 1.0},
    "half_blink_brows": {"blink_left": 0.5, "blink_right": 0.5, "brow_raise": 1.0},
    "frown_look": {"brow_down": 1.0, "eyes_left": 0.8, "eyes_up": 0.4},
    "tongue": {"jaw_open": 0.6, "tongue_up": 1.0},
    "nod": {"head_pitch": 1.5, "jaw_open": 0.3},
    "turn_tilt": {"head_yaw": 2.0, "head_roll": 1.0, "eyes_left": -0.5},
}


def coef_vector(names, pose):
    c = np.zeros(len(names))
    for k, val in pose.items():
        c[names.index(k)] = val
    return c


def write_previews(t, out_dir, size=512, poses=None):
    from tools.demo.make_head import expressed
    os.makedirs(out_dir, exist_ok=True)
    names = None
    from tools.demo import make_head
    names = make_head.EXP_NAMES
    for nm, pose in (poses or PREVIEW_POSES).items():
        exp = {k: v for k, v in pose.items() if k not in POSE_NAMES}
        V = expressed(t, None, coef_vector(names, exp))
        if any(k in POSE_NAMES for k in pose):
            V = pose_vertices(V, t, [pose.get(k, 0.0) for k in POSE_NAMES])
        write_png(os.path.join(out_dir, f"head_{nm}.png"), shade(V, t, size, size))
        print("wrote", os.path.join(out_dir, f"head_{nm}.png"))
    write_png(os.path.join(out_dir, "secc_neutral.png"), secc_to_png(secc_map(
        expressed(t), t["triangles"], t["ncc"], t["eye_faces"], size, size)))


if __name__ == "__main__":
    import argparse
    from tools.reference import safetensors_io
    ap = argparse.ArgumentParser(description="render previews of a face model")
    ap.add_argument("model")
    ap.add_argument("out_dir")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    t, _ = safetensors_io.load_arrays(a.model)
    poses = {k: v for k, v in PREVIEW_POSES.items() if not a.only or k in a.only}
    write_previews(t, a.out_dir, a.size, poses)
    _ = math
