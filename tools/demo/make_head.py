#!/usr/bin/python3
"""Procedural demo head for avatard: a stylized head + neck built from our own implicit shapes.

Structure mirrors the BFM "front" model used by MimicTalk's SECC conditioning (spec §4.1/§4.2):
mean shape (re-centred), identity basis, expression basis, triangles, per-vertex NCC colours,
68-style landmark indices and the excluded eye faces, plus region labels and material colours
for a shaded preview. Everything is generated here; no mesh is downloaded.

Units follow BFM (micrometres / 1e5, i.e. 1 unit = 10 cm); +y up, +z towards the camera,
+x = the subject's left (image right). The camera of §4.1 sits at z = 10.

How the skin is made: an implicit field (smooth unions of ellipsoids/capsules, an almond cut for
each eye, a hair cap) is ray-cast from a point inside the skull along a fixed (polar, azimuth)
grid, so the skin is one structured grid whose topology does not depend on the shape parameters.
Identity basis vectors are therefore exact differences of re-cast meshes. The mouth is a slit in
that grid (one row duplicated between the corners) backed by a separate mouth cavity, teeth and
tongue; eyes are separate eyeballs seen through an almond-shaped recess in the lid skin.

Usage: make_head.py --out /work/demo-data/face.safetensors [--res full|tiny] [--preview DIR]
"""
import argparse
import json
import math
import os

import numpy as np

from tools.reference import safetensors_io

FORMAT = "avatard-face-model"
VERSION = "1"

REGIONS = ["skin", "lips", "inner_mouth", "teeth", "tongue", "eye_white", "iris", "pupil",
           "brows", "hair", "neck", "ears"]
R = {n: i for i, n in enumerate(REGIONS)}
# sRGB material colours in [0,1] and a specular strength per region (shaded preview only).
REGION_COLORS = {
    "skin": (0.89, 0.68, 0.56), "lips": (0.80, 0.44, 0.44), "inner_mouth": (0.45, 0.13, 0.14),
    "teeth": (0.95, 0.93, 0.86), "tongue": (0.78, 0.36, 0.38), "eye_white": (0.92, 0.90, 0.87),
    "iris": (0.30, 0.50, 0.62), "pupil": (0.03, 0.03, 0.04), "brows": (0.30, 0.20, 0.14),
    "hair": (0.33, 0.22, 0.15), "neck": (0.86, 0.65, 0.53), "ears": (0.88, 0.66, 0.55),
}
REGION_SPECULAR = {
    "skin": 0.12, "lips": 0.25, "inner_mouth": 0.15, "teeth": 0.35, "tongue": 0.3, "eye_white": 0.6,
    "iris": 0.6, "pupil": 0.8, "brows": 0.02, "hair": 0.10, "neck": 0.08, "ears": 0.1,
}

EXP_NAMES = [
    "jaw_open", "lips_pressed", "lip_pucker", "lip_funnel", "smile_left", "smile_right",
    "lip_stretch", "upper_lip_raise", "lower_lip_depress", "lower_lip_tuck", "blink_left",
    "blink_right", "brow_raise", "brow_down", "cheek_puff", "tongue_up", "eyes_left", "eyes_up",
]
# Identity parameters: name -> (key in params, step that one unit of coefficient adds).
ID_DIMS = [
    ("head_width", "head_width", 0.06), ("jaw_width", "jaw_width", 0.08),
    ("face_length", "face_length", 0.05), ("nose_length", "nose_length", 0.12),
    ("eye_spacing", "eye_spacing", 0.05), ("chin_forward", "chin_forward", 0.05),
]
BASE_PARAMS = dict(head_width=1.0, jaw_width=1.0, face_length=1.0, nose_length=1.0,
                   eye_spacing=1.0, chin_forward=0.0)

HEAD_CENTRE = np.array([0.0, 0.18, -0.65])  # ray origin for the skin grid (inside the skull)
EYE_R = 0.118                                 # eyeball radius (11.8 mm)
LID_T = 0.014                                 # lid thickness over the eyeball
RECESS = 0.012                                # skin inside the eye opening sits this far inside the eyeball
JAW_PIVOT = np.array([0.0, 0.02, -0.32])      # temporomandibular axis (x-parallel)
JAW_ANGLE = math.radians(17.0)                # jaw_open = 1


def smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


# --------------------------------------------------------------------------------------------
# Implicit field
# --------------------------------------------------------------------------------------------

def _ell(x, y, z, c, r):
    """Approximate signed distance to an ellipsoid (centre c, radii r)."""
    qx, qy, qz = (x - c[0]) / r[0], (y - c[1]) / r[1], (z - c[2]) / r[2]
    k0 = np.sqrt(qx * qx + qy * qy + qz * qz)
    k1 = np.sqrt((qx / r[0]) ** 2 + (qy / r[1]) ** 2 + (qz / r[2]) ** 2)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-9)


def _sph(x, y, z, c, r):
    return np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2) - r


def _capsule(x, y, z, a, b, ra, rb):
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    ab = b - a
    t = np.clip(((x - a[0]) * ab[0] + (y - a[1]) * ab[1] + (z - a[2]) * ab[2]) / ab.dot(ab), 0, 1)
    d = np.sqrt((x - a[0] - t * ab[0]) ** 2 + (y - a[1] - t * ab[1]) ** 2 + (z - a[2] - t * ab[2]) ** 2)
    return d - (ra + (rb - ra) * t)


def smin(a, b, k):
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1 - h) + a * h - k * h * (1 - h)


def smax(a, b, k):
    return -smin(-a, -b, k)


class Anatomy:
    """Landmark positions derived from the identity parameters (pre-recentring coordinates)."""

    def __init__(self, p):
        self.p = p
        hw, jw, fl = p["head_width"], p["jaw_width"], p["face_length"]
        self.hw, self.jw, self.fl = hw, jw, fl
        self.eye_c = [np.array([s * 0.305 * p["eye_spacing"] * hw, 0.27, 0.465]) for s in (-1, 1)]
        self.mouth_y = 0.15 - 0.53 * fl   # mouth line height at the centre
        self.mouth_z = 0.86
        self.mouth_half_w = 0.235
        self.chin = np.array([0.0, 0.15 - 0.93 * fl, 0.56 + p["chin_forward"]])
        self.nose_tip = np.array([0.0, -0.05 - 0.06 * (p["nose_length"] - 1), 0.89 + 0.1 * (p["nose_length"] - 1)])


def almond(xe, ye):
    """Eye opening in the eye's frontal plane (xe > 0 towards the outer corner). <0 inside."""
    w = 0.128
    u = np.clip(xe / w, -1.5, 1.5)
    base = np.clip(1 - u * u, 0, None)
    tilt = 0.012 * u
    upper = 0.058 * base ** 0.85 * (1 + 0.12 * (-u)) + tilt  # peak slightly towards the nose
    lower = -0.040 * base ** 1.1 + tilt
    return np.maximum(np.maximum(ye - upper, lower - ye), (np.abs(u) - 1) * w)


def field(x, y, z, a, with_hair=True):
    """Skin field: < 0 inside the head. Returns (field, hair_field, brow_field)."""
    hw, jw, fl = a.hw, a.jw, a.fl
    fy = lambda v: 0.15 + (v - 0.15) * fl  # noqa: E731  (scale lower-face heights around the head centre)
    cran = _ell(x, y, z, (0, 0.38, -0.32), (0.76 * hw, 0.93, 1.0))
    f = cran
    f = smin(f, _ell(x, y, z, (0, 0.05, 0.18), (0.60 * hw, 0.56, 0.55)), 0.12)          # midface
    f = smin(f, _ell(x, y, z, (0, fy(-0.42), 0.02), (0.52 * jw, 0.47 * fl, 0.62)), 0.15)  # jaw mass
    f = smin(f, _ell(x, y, z, (0, a.chin[1] + 0.14, a.chin[2] - 0.09), (0.21 * jw, 0.17, 0.15)), 0.10)
    for s in (-1, 1):
        f = smin(f, _ell(x, y, z, (s * 0.40 * hw, 0.06, 0.36), (0.21, 0.15, 0.22)), 0.10)  # cheekbones
        f = smin(f, _ell(x, y, z, (s * 0.29 * jw, fy(-0.24), 0.44), (0.22, 0.24, 0.25)), 0.14)  # cheeks
        f = smin(f, _ell(x, y, z, (s * 0.40 * jw, fy(-0.46), -0.12), (0.16, 0.30, 0.40)), 0.18)  # jaw sides
        f = smin(f, _ell(x, y, z, (s * 0.30 * hw, 0.48, 0.47), (0.20, 0.065, 0.12)), 0.09)  # brow ridge
    # muzzle and lips
    my, mz = a.mouth_y, a.mouth_z
    f = smin(f, _ell(x, y, z, (0, my + 0.02, 0.52), (0.33, 0.30, 0.33)), 0.08)
    f = smin(f, _ell(x, y, z, (0, my + 0.042, mz - 0.085), (0.235, 0.052, 0.085)), 0.035)  # upper lip
    f = smin(f, _ell(x, y, z, (0, my - 0.055, mz - 0.10), (0.215, 0.062, 0.085)), 0.035)  # lower lip
    # nose
    nl = a.p["nose_length"]
    tip = a.nose_tip
    f = smin(f, _capsule(x, y, z, (0, 0.36, 0.60), (0, tip[1] + 0.06, tip[2] - 0.07), 0.055, 0.075), 0.06)
    f = smin(f, _sph(x, y, z, tip, 0.085 + 0.01 * (nl - 1)), 0.05)
    for s in (-1, 1):
        f = smin(f, _ell(x, y, z, (s * 0.095, tip[1] - 0.035, tip[2] - 0.12), (0.07, 0.058, 0.07)), 0.06)
    # neck (slightly forward-leaning), bottom cut
    nz = -0.24 + 0.12 * (y + 0.6)
    neck = np.sqrt((x / 0.50) ** 2 + ((z - nz) / 0.46) ** 2) * 0.46 - 0.46
    neck = np.where(y > -0.2, np.maximum(neck, (y + 0.2)), neck)
    f = smin(f, neck, 0.22)
    f = smax(f, -2.0 - y, 0.02)
    # eyes: socket, lid ball, almond recess
    for s, c in zip((-1, 1), a.eye_c):
        f = smax(f, -_sph(x, y, z, c + np.array([0, 0.01, 0.06]), 0.135), 0.08)
    for s, c in zip((-1, 1), a.eye_c):
        f = smin(f, _sph(x, y, z, c, EYE_R + LID_T), 0.035)
    for s, c in zip((-1, 1), a.eye_c):
        xe, ye = s * (x - c[0]), y - c[1]
        cut = np.maximum(almond(xe, ye), (EYE_R - RECESS) - np.sqrt((x - c[0]) ** 2 + ye ** 2 + (z - c[2]) ** 2))
        cut = np.maximum(cut, c[2] + 0.02 - z)
        f = smax(f, -cut, 0.022)
    brow = np.full_like(x, 10.0)
    for s in (-1, 1):
        # thin arched brow ridges (geometry + region)
        bx = s * x
        arch = 0.47 + 0.045 * np.cos(np.clip((bx - 0.30 * hw) / 0.2, -1.5, 1.5) * 1.2) - 0.03
        d = _ell(bx, y - arch + 0.47, z, (0.30 * hw, 0.47, 0.58), (0.155, 0.022, 0.09))
        brow = np.minimum(brow, d)
    f = smin(f, brow + 0.006, 0.012)
    hair = np.full_like(x, 10.0)
    if with_hair:
        cz = -0.32
        phi = np.arctan2(x, z - cz)
        ap = np.abs(phi)
        yl = np.interp(ap, [0, 0.5, 0.9, 1.25, 1.6, 2.2, math.pi], [0.86, 0.80, 0.62, 0.42, 0.30, 0.0, -0.30])
        shell = _ell(x, y, z, (0, 0.42, -0.34), (0.80 * hw, 0.98, 1.06))
        # gentle strands: low-amplitude grooves running front-to-back
        shell = shell + 0.004 * np.sin(x * 42.0 + 3.0 * np.sin(z * 3.0))
        hair = smax(shell, (yl - y) * 0.8, 0.035)
        f = smin(f, hair, 0.008)
    return f, hair, brow


# --------------------------------------------------------------------------------------------
# Skin grid by ray casting
# --------------------------------------------------------------------------------------------

def ray_dirs(theta, phi):
    st = np.sin(theta)
    return np.stack([st * np.sin(phi), np.cos(theta), st * np.cos(phi)], -1)


def cast(dirs, a, t_max=3.3):
    """Outermost surface crossing along rays from HEAD_CENTRE (sphere tracing + bisection)."""
    o = HEAD_CENTRE
    n = dirs.shape[0]
    t = np.full(n, t_max)
    done = np.zeros(n, bool)
    lo = np.zeros(n)
    hi = np.full(n, t_max)

    def F(tt, idx):
        p = o + dirs[idx] * tt[:, None]
        return field(p[:, 0], p[:, 1], p[:, 2], a)[0]

    idx = np.arange(n)
    for _ in range(400):
        if idx.size == 0:
            break
        f = F(t[idx], idx)
        step = np.maximum(0.6 * f, 0.003)
        t_new = t[idx] - step
        f_new = F(t_new, idx)
        crossed = (f_new < 0) | (t_new <= 0.05)
        ci = idx[crossed]
        lo[ci] = np.maximum(t_new[crossed], 0.05)
        hi[ci] = t[ci]
        done[ci] = True
        t[idx] = t_new
        idx = idx[~crossed]
    if not done.all():
        raise RuntimeError("ray cast did not converge")
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        fm = F(mid, np.arange(n))
        inside = fm < 0
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    tt = 0.5 * (lo + hi)
    return o + dirs * tt[:, None]


def _warp_by_density(samples, weights, n_out):
    """Place n_out positions uniformly in cumulative weighted length."""
    cum = np.concatenate([[0], np.cumsum(weights)])
    targets = np.linspace(0, cum[-1], n_out)
    return np.interp(targets, cum, samples)


def make_grid_angles(a, n_rows, n_cols):
    """Rows (polar angles) equalised in arc length with extra density on the face and mouth."""
    rel = np.array([0.0, a.mouth_y, a.mouth_z]) - HEAD_CENTRE
    theta_m = math.atan2(math.hypot(rel[0], rel[2]), rel[1])
    phi_c = math.atan2(a.mouth_half_w, a.mouth_z - 0.09 - HEAD_CENTRE[2])
    # arc length along a few meridians
    ths = np.linspace(0.02, math.pi - 0.02, 400)
    seg = np.zeros(ths.size - 1)
    for phi0, wgt in ((0.0, 3.0), (0.35, 2.0), (0.9, 1.0), (1.6, 1.0), (2.6, 0.7), (math.pi, 0.7)):
        pts = cast(ray_dirs(ths, np.full_like(ths, phi0)), a)
        seg += wgt * np.linalg.norm(np.diff(pts, axis=0), axis=1)
    mids = 0.5 * (ths[1:] + ths[:-1])
    th_face = theta_m - 0.25
    dens = 1 + 1.6 * np.exp(-((mids - th_face) / 0.45) ** 2) + 2.5 * np.exp(-((mids - theta_m) / 0.05) ** 2)
    theta = _warp_by_density(ths, seg * dens, n_rows)
    theta[0], theta[-1] = 0.045, math.pi - 0.03
    r_m = int(np.argmin(np.abs(theta - theta_m)))
    theta[r_m] = theta_m
    theta = np.sort(theta)
    # columns: denser at the front
    ph = np.linspace(-math.pi, math.pi, 721)
    pm = 0.5 * (ph[1:] + ph[:-1])
    cd = 1 + 2.6 * np.exp(-(pm / 0.75) ** 2)
    phi = _warp_by_density(ph, cd, n_cols + 1)[:-1]
    phi = phi - phi[np.argmin(np.abs(phi))]  # a column straight ahead
    for sgn in (-1, 1):
        j = int(np.argmin(np.abs(phi - sgn * phi_c)))
        phi[j] = sgn * phi_c
    return theta, phi, r_m


class Mesh:
    def __init__(self):
        self.v = []
        self.f = []
        self.reg = []
        self.part = []  # part name per vertex (skin/eye_l/eye_r/teeth_up/teeth_lo/cavity/tongue/ears)
        self.n = 0

    def add(self, verts, faces, regions, part):
        verts = np.asarray(verts, float)
        base = self.n
        self.v.append(verts)
        self.f.append(np.asarray(faces, np.int64) + base)
        self.reg.append(np.broadcast_to(np.asarray(regions, np.int32), (len(verts),)).copy())
        self.part += [part] * len(verts)
        self.n += len(verts)
        return base


def grid_faces(n_rows, n_cols, idx):
    """Quads between consecutive rows of an (n_rows, n_cols) periodic index grid."""
    f = []
    for r in range(n_rows - 1):
        for c in range(n_cols):
            c1 = (c + 1) % n_cols
            a, b, cc, d = idx[r][c], idx[r][c1], idx[r + 1][c1], idx[r + 1][c]
            f.append((a, b, cc))
            f.append((a, cc, d))
    return f


def build_skin(a, theta, phi, r_m, lower_dup_cols):
    nr, nc = theta.size, phi.size
    TH, PH = np.meshgrid(theta, phi, indexing="ij")
    pts = cast(ray_dirs(TH.ravel(), PH.ravel()), a).reshape(nr, nc, 3)
    top = cast(np.array([[0.0, 1.0, 0.0]]), a)[0]
    bot = cast(np.array([[0.0, -1.0, 0.0]]), a)[0]
    return pts, top, bot


def smooth_radial(pts, r_m, layout, iters=3):
    """Taubin-smooth the ray lengths on the grid (vertices stay on their rays): removes the small
    zig-zags that ray casting leaves at creases, keeps the mouth slit rows sharp."""
    d = pts - HEAD_CENTRE
    t = np.linalg.norm(d, axis=-1)
    u = d / t[..., None]
    nr, nc = t.shape
    w = np.ones_like(t)
    cols = np.arange(nc)
    mouth_cols = (cols >= layout.c_left - 3) & (cols <= layout.c_right + 3)
    for r in range(max(r_m - 5, 0), min(r_m + 6, nr)):
        w[r, mouth_cols] = 0.0
    w[0], w[-1] = 0, 0

    def lap(x):
        nb = (np.roll(x, 1, 1) + np.roll(x, -1, 1) + np.vstack([x[:1], x[:-1]]) + np.vstack([x[1:], x[-1:]])) / 4
        return (nb - x) * w

    for _ in range(iters):
        t = t + 0.5 * lap(t)
        t = t - 0.53 * lap(t)
    return HEAD_CENTRE + u * t[..., None]


def lip_curl(pts, theta, phi, r_m, a):
    """Pull the skin near the slit inwards so the lips roll into the mouth."""
    phi_c = abs(phi[np.argmin(np.abs(phi - 0.2))])  # unused guard
    del phi_c
    rad = np.linalg.norm(pts - HEAD_CENTRE, axis=-1)
    s = (theta[:, None] - theta[r_m]) * rad  # signed arc distance (+ below the slit)
    corner = np.abs(np.sin(phi)) * rad / a.mouth_half_w  # ~|x| / half width
    prof = np.clip(1 - corner ** 2, 0, 1) ** 0.5
    depth = (0.02 + 0.055 * prof) * (np.abs(phi)[None, :] < 0.6)
    depth = depth * smoothstep(1.35, 0.9, corner)
    w = np.exp(-(s / 0.018) ** 2)
    d = depth * w
    dirs = (pts - HEAD_CENTRE) / rad[..., None]
    return pts - dirs * d[..., None]


# --------------------------------------------------------------------------------------------
# Other parts
# --------------------------------------------------------------------------------------------

def sphere_grid(n_lat, n_lon, alpha_max, alphas=None):
    """Rings around +z: ring k at polar angle alphas[k] from the front pole (pole vertex first)."""
    if alphas is None:
        alphas = np.linspace(0, alpha_max, n_lat + 1)[1:]
    lon = np.linspace(0, 2 * math.pi, n_lon, endpoint=False)
    verts = [np.array([0, 0, 1.0])]
    for al in alphas:
        verts += [np.array([math.sin(al) * math.cos(t), math.sin(al) * math.sin(t), math.cos(al)]) for t in lon]
    verts = np.array(verts)
    faces = []
    for j in range(n_lon):
        faces.append((0, 1 + j, 1 + (j + 1) % n_lon))
    idx = [[1 + k * n_lon + j for j in range(n_lon)] for k in range(len(alphas))]
    faces += grid_faces(len(alphas), n_lon, idx)
    return verts, faces, np.asarray(alphas)


def eyeball(c, n_lon):
    alphas = np.array([0.05, 0.11, 0.17, 0.205, 0.215, 0.28, 0.36, 0.44, 0.50, 0.515, 0.56, 0.64,
                       0.76, 0.92, 1.1, 1.3, 1.55, 1.8, 2.1, 2.4])
    if n_lon < 24:
        alphas = np.array([0.11, 0.205, 0.215, 0.36, 0.50, 0.515, 0.7, 1.0, 1.4, 1.9, 2.4])
    v, f, _ = sphere_grid(0, n_lon, 0, alphas)
    al = np.concatenate([[0.0], np.repeat(alphas, n_lon)])
    # cornea bulge over the iris
    r = EYE_R * (1 + 0.07 * np.cos(np.clip(al / 0.52, 0, 1) * math.pi / 2) ** 2)
    reg = np.where(al < 0.21, R["pupil"], np.where(al < 0.51, R["iris"], R["eye_white"]))
    return c + v * r[:, None], f, reg


def rounded_box(n_u, n_v):
    """Unit superellipsoid grid (|x|^4+|y|^4+|z|^4 = 1 style) with poles along y."""
    lat = np.linspace(-math.pi / 2, math.pi / 2, n_v + 2)[1:-1]
    lon = np.linspace(0, 2 * math.pi, n_u, endpoint=False)
    e = 0.45
    sp = lambda w, ex: np.sign(np.sin(w)) * np.abs(np.sin(w)) ** ex  # noqa: E731
    cp = lambda w, ex: np.sign(np.cos(w)) * np.abs(np.cos(w)) ** ex  # noqa: E731
    verts = [np.array([0, -1.0, 0])]
    for la in lat:
        for lo in lon:
            verts.append(np.array([cp(la, e) * cp(lo, e), sp(la, e), cp(la, e) * sp(lo, e)]))
    verts.append(np.array([0, 1.0, 0]))
    verts = np.array(verts)
    faces = []
    for j in range(n_u):
        faces.append((0, 1 + (j + 1) % n_u, 1 + j))
    idx = [[1 + k * n_u + j for j in range(n_u)] for k in range(len(lat))]
    faces += grid_faces(len(lat), n_u, idx)
    top = len(verts) - 1
    last = idx[-1]
    for j in range(n_u):
        faces.append((top, last[j], last[(j + 1) % n_u]))
    return verts, faces


def teeth_row(a, upper, lo_res):
    """A row of rounded teeth along a parabolic arch behind the lips."""
    n_teeth = 10 if not lo_res else 6
    widths = [0.078, 0.066, 0.068, 0.07, 0.075, 0.075, 0.07, 0.068, 0.066, 0.078][:n_teeth]
    if lo_res:
        widths = [0.078, 0.07, 0.075, 0.075, 0.07, 0.078]
    my = a.mouth_y
    z0 = a.mouth_z - (0.095 if upper else 0.125)
    k = 1.9
    xs = []
    x = 0.0
    half = [w for w in widths[n_teeth // 2:]]
    for w in half:
        xs.append(x + w / 2)
        x += w
    xs = [-v for v in xs[::-1]] + xs
    wl = half[::-1] + half
    bv, bf = rounded_box(10 if not lo_res else 6, 6 if not lo_res else 3)
    verts, faces = [], []
    for xc, w in zip(xs, wl):
        h = 0.095 if upper else 0.085
        if abs(xc) > 0.13:
            h *= 0.85
        thick = 0.05
        zc = z0 - k * xc * xc
        ang = math.atan(2 * k * xc)  # follow the arch
        p = bv * np.array([w * 0.47, h / 2, thick / 2])
        ca, sa = math.cos(ang), math.sin(ang)
        rot = np.array([[ca, 0, sa], [0, 1, 0], [-sa, 0, ca]])
        p = p @ rot.T
        yc = my + (h / 2 - 0.012) if upper else my - h / 2 - 0.004
        p = p + np.array([xc, yc, zc])
        faces.append(np.asarray(bf) + sum(len(q) for q in verts))
        verts.append(p)
    return np.concatenate(verts), np.concatenate(faces)


def surface_z(a, x, y):
    """Skin z straight in front at (x, y): cast along -z from z = 2."""
    xs, ys = np.atleast_1d(x).astype(float), np.atleast_1d(y).astype(float)
    zhi = np.full(xs.shape, 2.0)
    zlo = np.full(xs.shape, -0.5)
    # march from the front
    z = zhi.copy()
    for _ in range(400):
        f = field(xs, ys, z, a)[0]
        z = np.where(f > 0, z - np.maximum(0.6 * f, 0.002), z)
    hi = z + 0.01
    lo = z - 0.01
    del zlo
    for _ in range(25):
        mid = 0.5 * (lo + hi)
        ins = field(xs, ys, mid, a)[0] < 0
        lo = np.where(ins, mid, lo)
        hi = np.where(ins, hi, mid)
    return 0.5 * (lo + hi)


def mouth_cavity(a, n_psi, n_b):
    """A sack opening forward behind the lips: its rim stays hidden in the lip/cheek tissue."""
    psi = np.linspace(0, 2 * math.pi, n_psi, endpoint=False)
    wr = a.mouth_half_w + 0.02
    hu, hl = 0.15, 0.17
    rx = wr * np.cos(psi)
    ry = a.mouth_y + np.where(np.sin(psi) > 0, hu, hl) * np.sin(psi)
    rz = surface_z(a, rx, ry) - 0.06
    zc = a.mouth_z - 0.28
    depth = 0.40
    verts = []
    bs = np.linspace(0, 1, n_b + 1)[:-1]  # the back vertex closes the sack (no collapsed ring)
    for b in bs:
        beta = b * math.pi / 2
        x = rx * math.cos(beta) * (1 + 0.15 * math.sin(2 * beta))
        y = a.mouth_y + (ry - a.mouth_y) * math.cos(beta) * (1 + 0.25 * math.sin(2 * beta)) - 0.03 * math.sin(beta)
        z = zc + (rz - zc) * math.cos(beta) - depth * math.sin(beta)
        verts.append(np.stack([x, y, z], -1))
    verts = np.concatenate(verts)
    back = np.array([[0, a.mouth_y - 0.03, zc - depth]])
    verts = np.concatenate([verts, back])
    idx = [[k * n_psi + j for j in range(n_psi)] for k in range(n_b)]
    faces = grid_faces(n_b, n_psi, idx)
    bi = len(verts) - 1
    for j in range(n_psi):
        faces.append((idx[-1][j], idx[-1][(j + 1) % n_psi], bi))
    return verts, np.array(faces)


def tongue(a, n_u, n_v):
    v, f = rounded_box(n_u, n_v)
    # flatten into a tongue: wide, long, thin; the top bulges
    v = v.copy()
    v[:, 1] = np.where(v[:, 1] > 0, v[:, 1] * 1.0, v[:, 1] * 0.5)
    p = v[:, [0, 1, 2]] * np.array([0.15, 0.045, 0.2])
    # rotate so the long axis is along z (rounded_box poles are along y: swap y/z roles)
    p = np.stack([p[:, 0], p[:, 1], p[:, 2]], -1)
    p[:, 1] -= 0.05 * (p[:, 2] / 0.2) ** 2  # droops at the front and back
    p += np.array([0, a.mouth_y - 0.06, a.mouth_z - 0.29])
    return p, np.asarray(f)


def ear(a, side, n_u, n_v):
    """A stylized ear: a flattened shell with a rim and a hollow, on the side of the head."""
    v, f = rounded_box(n_u, n_v)
    v = v.copy()
    # local frame: y up (ear height), z forward, x outward (thickness)
    rho = np.sqrt(v[:, 1] ** 2 + v[:, 2] ** 2)
    hollow = 0.55 * np.exp(-(rho / 0.6) ** 4)
    v[:, 0] = np.where(v[:, 0] > 0, v[:, 0] * (1 - hollow) - 0.2 * hollow, v[:, 0])
    p = v * np.array([0.045, 0.27, 0.15])
    p[:, 2] -= 0.04 * (p[:, 1] / 0.27)  # lean back at the top
    ang = math.radians(-12)
    ca, sa = math.cos(ang), math.sin(ang)
    p = p @ np.array([[ca, 0, -sa], [0, 1, 0], [sa, 0, ca]]).T  # flare out at the back
    p[:, 0] *= side
    x0 = side * (0.745 * a.hw + 0.03)
    p += np.array([x0, 0.16, -0.36])
    return p, np.asarray(f)


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------

RES = {"full": dict(rows=150, cols=132, eye_lon=32, cav=(40, 12), tongue=(16, 8), ear=(20, 12)),
       # The shipped demo head: about 40 % of the full vertex count (a few MB), still smooth at 384².
       "demo": dict(rows=100, cols=88, eye_lon=24, cav=(28, 9), tongue=(12, 6), ear=(14, 8)),
       "tiny": dict(rows=40, cols=36, eye_lon=12, cav=(16, 5), tongue=(8, 4), ear=(8, 5))}


class Layout:
    """Everything that fixes topology (derived once from the base parameters)."""

    def __init__(self, res):
        self.res = res
        a = Anatomy(BASE_PARAMS)
        cfg = RES[res]
        self.theta, self.phi, self.r_m = make_grid_angles(a, cfg["rows"], cfg["cols"])
        phi_c = math.atan2(a.mouth_half_w, a.mouth_z - 0.09 - HEAD_CENTRE[2])
        self.c_left = int(np.argmin(np.abs(self.phi + phi_c)))
        self.c_right = int(np.argmin(np.abs(self.phi - phi_c)))
        self.slit_cols = [c for c in range(self.c_left + 1, self.c_right)]


def assemble(params, layout):
    """Build the full mesh for one parameter set; topology depends only on layout."""
    a = Anatomy(params)
    cfg = RES[layout.res]
    lo_res = layout.res == "tiny"
    m = Mesh()
    th, ph, r_m = layout.theta, layout.phi, layout.r_m
    nr, nc = th.size, ph.size
    pts, top, bot = build_skin(a, th, ph, r_m, layout.slit_cols)
    pts = smooth_radial(pts, r_m, layout)
    pts = lip_curl(pts, th, ph, r_m, a)
    grid_idx = np.arange(nr * nc).reshape(nr, nc) + 1
    skin_v = [top[None], pts.reshape(-1, 3)]
    n_grid = 1 + nr * nc
    dup = {c: n_grid + i for i, c in enumerate(layout.slit_cols)}
    skin_v.append(pts[r_m, layout.slit_cols])
    bottom_i = n_grid + len(layout.slit_cols)
    skin_v.append(bot[None])
    skin_v = np.concatenate(skin_v)
    faces = []
    for c in range(nc):
        faces.append((0, grid_idx[0][(c + 1) % nc], grid_idx[0][c]))
    for r in range(nr - 1):
        for c in range(nc):
            c1 = (c + 1) % nc
            A, B, C, D = grid_idx[r][c], grid_idx[r][c1], grid_idx[r + 1][c1], grid_idx[r + 1][c]
            if r == r_m:  # the row below the slit uses the lower copies
                A = dup.get(c, A)
                B = dup.get(c1, B)
            faces.append((A, C, B))
            faces.append((A, D, C))
    for c in range(nc):
        faces.append((bottom_i, grid_idx[-1][c], grid_idx[-1][(c + 1) % nc]))
    faces = np.array(faces)
    side = np.zeros(len(skin_v))  # +1 rows above the slit (upper lip side), -1 below, per vertex
    rows = np.full(len(skin_v), -1)
    rows[1:n_grid] = np.repeat(np.arange(nr), nc)
    rows[0] = -1
    rows[n_grid:bottom_i] = r_m
    rows[bottom_i] = nr
    cols = np.full(len(skin_v), -1)
    cols[1:n_grid] = np.tile(np.arange(nc), nr)
    cols[n_grid:bottom_i] = layout.slit_cols
    side = np.where(rows < r_m, 1.0, -1.0)
    side[1 + r_m * nc + np.arange(nc)] = 1.0
    side[n_grid:bottom_i] = -1.0
    side[1 + r_m * nc + np.array([layout.c_left, layout.c_right])] = 0.0
    base_skin = m.add(skin_v, faces, R["skin"], "skin")
    skin_info = dict(rows=rows, cols=cols, side=side, n=len(skin_v), bottom=bottom_i)

    eyes = []
    for s, c in zip((-1, 1), a.eye_c):
        ev, ef, er = eyeball(c, cfg["eye_lon"])
        eyes.append(m.add(ev, ef, er, "eye_l" if s > 0 else "eye_r"))
    tv, tf = teeth_row(a, True, lo_res)
    m.add(tv, tf, R["teeth"], "teeth_up")
    tv, tf = teeth_row(a, False, lo_res)
    m.add(tv, tf, R["teeth"], "teeth_lo")
    cv, cf = mouth_cavity(a, *cfg["cav"])
    m.add(cv, cf, R["inner_mouth"], "cavity")
    gv, gf = tongue(a, *cfg["tongue"])
    m.add(gv, gf, R["tongue"], "tongue")
    for s in (-1, 1):
        ev, ef = ear(a, s, *cfg["ear"])
        m.add(ev, ef, R["ears"], "ears")
    V = np.concatenate(m.v)
    Fc = np.concatenate(m.f)
    reg = np.concatenate(m.reg)
    part = np.array(m.part)
    sk, alb = label_skin(V, reg, part, a, skin_info)
    albedo = np.array([REGION_COLORS[REGIONS[k]] for k in reg])
    albedo[sk] = alb
    return dict(V=V, F=Fc, reg=reg, part=part, skin=skin_info, anatomy=a, eyes=eyes, albedo=albedo)


def label_skin(V, reg, part, a, info):
    """Region labels (hard, by majority of a soft weight) and soft albedo weights for skin vertices."""
    sk = np.where(part == "skin")[0]
    x, y, z = V[sk, 0], V[sk, 1], V[sk, 2]
    _, hair, brow = field(x, y, z, a)
    w_hair = smoothstep(0.012, -0.002, hair)
    xc = a.mouth_half_w + 0.005
    u = np.clip(np.abs(x) / xc, 0, 1)
    bow = 0.012 * np.exp(-(x / 0.03) ** 2)  # Cupid's bow dip
    up = a.mouth_y + 0.072 * (1 - u ** 2) ** 0.55 - bow + 0.004
    lo = a.mouth_y - 0.085 * (1 - u ** 2) ** 0.7 - 0.004
    e = 0.006
    w_lips = smoothstep(-e, e, up - y) * smoothstep(-e, e, y - lo) * smoothstep(xc + 0.01, xc - 0.02, np.abs(x))
    w_lips *= smoothstep(a.mouth_z - 0.3, a.mouth_z - 0.2, z)
    w_brow = smoothstep(0.008, 0.0, brow) * (z > 0.3)
    w_neck = smoothstep(a.chin[1] - 0.05, a.chin[1] - 0.2, y) * (1 - w_hair)
    w_lash = np.zeros(sk.size)
    for s, c in zip((-1, 1), a.eye_c):
        xe, ye = s * (x - c[0]), y - c[1]
        rr = np.sqrt((x - c[0]) ** 2 + ye ** 2 + (z - c[2]) ** 2)
        g = almond(xe, ye)
        near = smoothstep(EYE_R + 0.03, EYE_R + 0.012, rr) * (z > c[2])
        w_lash = np.maximum(w_lash, near * smoothstep(0.014, 0.004, np.abs(g)) * smoothstep(-0.03, 0.0, ye - 0.01 * xe / 0.128))
    r = np.full(sk.size, R["skin"])
    r[w_neck > 0.5] = R["neck"]
    r[w_lips > 0.5] = R["lips"]
    r[w_brow > 0.5] = R["brows"]
    r[w_hair > 0.5] = R["hair"]
    reg[sk] = r
    col = lambda n: np.array(REGION_COLORS[n])  # noqa: E731
    alb = np.tile(col("skin"), (sk.size, 1))
    for wgt, n in ((w_neck, "neck"), (w_lips, "lips"), (w_brow, "brows"), (w_hair, "hair")):
        alb = alb * (1 - wgt[:, None]) + col(n) * wgt[:, None]
    alb = alb * (1 - 0.85 * w_lash[:, None]) + np.array([0.12, 0.08, 0.07]) * 0.85 * w_lash[:, None]
    return sk, alb


# --------------------------------------------------------------------------------------------
# Expression fields
# --------------------------------------------------------------------------------------------

def rot_x(p, pivot, ang):
    c, s = math.cos(ang), math.sin(ang)
    d = p - pivot
    y = d[:, 1] * c - d[:, 2] * s
    z = d[:, 1] * s + d[:, 2] * c
    return np.stack([d[:, 0], y, z], -1) + pivot


def jaw_weight(M):
    V, part, a = M["V"], M["part"], M["anatomy"]
    info = M["skin"]
    w = np.zeros(len(V))
    sk = part == "skin"
    x, y, z = V[:, 0], V[:, 1], V[:, 2]
    side = np.zeros(len(V))
    side[:info["n"]] = info["side"]
    # boundary: the mouth line near the mouth, rising towards the jaw pivot at the sides
    ax = np.abs(x)
    xc = a.mouth_half_w
    lateral = np.clip((ax - xc) / 0.35, 0, 1)
    yb = a.mouth_y + 0.03 + lateral * (0.25)
    width = 0.006 + 0.12 * smoothstep(xc * 0.6, xc + 0.2, ax)
    ws = smoothstep(0, 1, (yb - y) / (2 * width) + 0.5)
    # exact split at the lips: rows decide
    near = (ax < xc * 0.98) & (np.abs(y - a.mouth_y) < 0.12) & (z > a.mouth_z - 0.25) & sk
    ws = np.where(near & (side < 0), np.maximum(ws, smoothstep(a.mouth_y + 0.02, a.mouth_y - 0.01, y) * 0 + 1.0), ws)
    ws = np.where(near & (side > 0), 0.0, ws)
    corner = sk & (side == 0) & (np.arange(len(V)) < info["n"])
    ws = np.where(corner, 0.5, ws)
    # fade behind the jaw angle and down the neck
    ws *= smoothstep(-0.62, -0.30, z + 0.25 * (y < -0.9))
    ws *= 1 - smoothstep(a.chin[1] - 0.05, a.chin[1] - 0.45, y) * smoothstep(0.2, -0.2, z - 0.1)
    ws *= smoothstep(a.chin[1] - 0.55, a.chin[1] - 0.2, y)
    w[sk] = ws[sk]
    w[part == "teeth_lo"] = 1.0
    w[part == "tongue"] = 1.0
    cav = part == "cavity"
    w[cav] = smoothstep(a.mouth_y + 0.03, a.mouth_y - 0.05, y[cav])
    return w


def expression_fields(M):
    V, part, reg, a = M["V"], M["part"], M["reg"], M["anatomy"]
    n = len(V)
    x, y, z = V[:, 0], V[:, 1], V[:, 2]
    info = M["skin"]
    side = np.zeros(n)
    side[:info["n"]] = info["side"]
    soft = (part == "skin") | (part == "cavity")
    mouth_c = np.array([0.0, a.mouth_y, a.mouth_z])
    xc = a.mouth_half_w
    fields = {}

    wj = jaw_weight(M)
    fields["jaw_open"] = (rot_x(V, JAW_PIVOT, JAW_ANGLE) - V) * wj[:, None]

    dm = np.linalg.norm((V - mouth_c) * np.array([0.8, 1.2, 1.0]), axis=1)
    g_mouth = np.exp(-(dm / 0.2) ** 2) * soft
    g_lip = np.exp(-(dm / 0.16) ** 2) * soft
    xprof = np.clip(1 - (x / (xc * 1.1)) ** 2, 0, 1)
    dy_m = y - a.mouth_y
    rim_u = np.exp(-(np.maximum(dy_m, 0) / 0.06) ** 2) * (side >= 0)
    rim_l = np.exp(-(np.maximum(-dy_m, 0) / 0.07) ** 2) * (side <= 0)
    lipsy = (np.abs(dy_m) < 0.13) & (z > a.mouth_z - 0.3)

    d = np.zeros((n, 3))
    d[:, 1] = -np.sign(dy_m) * 0.012 * g_lip * lipsy
    d[:, 2] = -0.018 * g_lip * lipsy
    d[:, 1] += 0.02 * np.exp(-((y - a.chin[1] - 0.1) / 0.12) ** 2) * np.exp(-(x / 0.2) ** 2) * soft * (z > 0)
    fields["lips_pressed"] = d

    d = np.zeros((n, 3))
    d[:, 0] = -0.45 * x * g_mouth
    d[:, 2] = 0.065 * g_lip * lipsy + 0.02 * g_mouth
    d[:, 1] = -0.25 * dy_m * g_mouth * (np.abs(dy_m) > 0.04)
    fields["lip_pucker"] = d

    d = np.zeros((n, 3))
    d[:, 0] = -0.32 * x * g_mouth
    d[:, 2] = 0.05 * g_lip * lipsy
    d[:, 1] = (0.035 * rim_u * (side > 0) - 0.04 * rim_l * (side < 0)) * xprof * soft * lipsy
    fields["lip_funnel"] = d

    for nm, sgn in (("smile_left", 1), ("smile_right", -1)):
        cpos = np.array([sgn * xc, a.mouth_y + 0.01, a.mouth_z - 0.13])
        dc = np.linalg.norm(V - cpos, axis=1)
        g = np.exp(-(dc / 0.13) ** 2) * soft
        cheek = np.exp(-(np.linalg.norm(V - (cpos + np.array([sgn * 0.08, 0.22, 0.0])), axis=1) / 0.14) ** 2) * soft
        d = np.zeros((n, 3))
        d[:, 0] = sgn * 0.04 * g
        d[:, 1] = 0.045 * g + 0.025 * cheek
        d[:, 2] = -0.025 * g + 0.012 * cheek
        fields[nm] = d

    d = np.zeros((n, 3))
    d[:, 0] = 0.22 * x * np.exp(-(dm / 0.24) ** 2) * soft
    d[:, 2] = -0.012 * g_mouth
    fields["lip_stretch"] = d

    d = np.zeros((n, 3))
    up_w = np.exp(-(np.maximum(dy_m, 0) / 0.09) ** 2) * (side > 0) * (dy_m > -0.01) * xprof * soft * (z > a.mouth_z - 0.3)
    d[:, 1] = 0.045 * up_w
    d[:, 2] = 0.008 * up_w
    fields["upper_lip_raise"] = d

    d = np.zeros((n, 3))
    lo_w = np.exp(-(np.maximum(-dy_m, 0) / 0.1) ** 2) * (side < 0) * (dy_m < 0.01) * xprof * soft * (z > a.mouth_z - 0.3)
    d[:, 1] = -0.05 * lo_w
    d[:, 2] = 0.012 * lo_w
    fields["lower_lip_depress"] = d

    d = np.zeros((n, 3))
    tuck = np.exp(-(np.maximum(-dy_m, 0) / 0.07) ** 2) * (side < 0) * (dy_m < 0.01) * xprof * soft * (z > a.mouth_z - 0.3)
    d[:, 1] = 0.03 * tuck
    d[:, 2] = -0.075 * tuck
    fields["lower_lip_tuck"] = d

    for nm, s, c in (("blink_right", -1, a.eye_c[0]), ("blink_left", 1, a.eye_c[1])):
        fields[nm] = blink_field(V, part, c, s)

    d = np.zeros((n, 3))
    for c in a.eye_c:
        bc = c + np.array([0, 0.2, 0.12])
        g = np.exp(-(np.linalg.norm((V - bc) * np.array([0.7, 1.0, 1.0]), axis=1) / 0.2) ** 2) * (part == "skin")
        d[:, 1] += 0.045 * g
        d[:, 2] += 0.005 * g
    fields["brow_raise"] = d

    d = np.zeros((n, 3))
    for c in a.eye_c:
        bc = c + np.array([-np.sign(c[0]) * 0.08, 0.18, 0.14])
        g = np.exp(-(np.linalg.norm(V - bc, axis=1) / 0.13) ** 2) * (part == "skin")
        d[:, 1] -= 0.03 * g
        d[:, 0] -= np.sign(c[0]) * 0.02 * g
        d[:, 2] += 0.012 * g
    fields["brow_down"] = d

    d = np.zeros((n, 3))
    for s in (-1, 1):
        pc = np.array([s * 0.33, a.mouth_y + 0.04, 0.52])
        g = np.exp(-(np.linalg.norm(V - pc, axis=1) / 0.17) ** 2) * soft
        nrm = V - np.array([0, a.mouth_y + 0.05, 0.1])
        nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
        d += 0.055 * g[:, None] * nrm
    fields["cheek_puff"] = d + 0.5 * fields["lips_pressed"]

    d = np.zeros((n, 3))
    tg = part == "tongue"
    front = smoothstep(a.mouth_z - 0.5, a.mouth_z - 0.13, z) * tg
    d[:, 1] = 0.07 * front
    d[:, 2] = 0.06 * front
    fields["tongue_up"] = d

    for nm, axis in (("eyes_left", "y"), ("eyes_up", "x")):
        d = np.zeros((n, 3))
        for c, pn in zip(a.eye_c, ("eye_r", "eye_l")):
            sel = part == pn
            p = V[sel] - c
            ang = math.radians(20)
            ca, sa = math.cos(ang), math.sin(ang)
            if axis == "y":  # turn towards +x (the subject's left)
                q = np.stack([p[:, 0] * ca + p[:, 2] * sa, p[:, 1], -p[:, 0] * sa + p[:, 2] * ca], -1)
            else:  # look up
                q = np.stack([p[:, 0], p[:, 1] * ca + p[:, 2] * sa, -p[:, 1] * sa + p[:, 2] * ca], -1)
            d[sel] = q - p
        fields[nm] = d
    return np.stack([fields[k] for k in EXP_NAMES], -1)  # [N,3,K]


def blink_field(V, part, c, s):
    """Upper lid rolls down over the eyeball (rotation about the eye's x axis), lower lid rises a little."""
    n = len(V)
    d = np.zeros((n, 3))
    sk = part == "skin"
    p = V - c
    xe = s * p[:, 0]
    r = np.linalg.norm(p, axis=1)
    # opening height at this xe, as angles seen from the eye centre
    w = 0.128
    u = np.clip(xe / w, -1, 1)
    base = np.clip(1 - u * u, 0, None)
    tilt = 0.012 * u
    upper = 0.058 * base ** 0.85 * (1 + 0.12 * (-u)) + tilt
    lower = -0.040 * base ** 1.1 + tilt
    close_y = lower + 0.12 * (upper - lower)  # lids meet in the lower part of the opening
    ang_up = np.arcsin(np.clip(upper / (EYE_R + LID_T), -1, 1)) - np.arcsin(np.clip(close_y / (EYE_R + LID_T), -1, 1))
    ang_lo = np.arcsin(np.clip(close_y / (EYE_R + LID_T), -1, 1)) - np.arcsin(np.clip(lower / (EYE_R + LID_T), -1, 1))
    near = sk & (r < 0.24) & (p[:, 2] > -0.02) & (np.abs(xe) < 0.2)
    lat = smoothstep(0.2, 0.12, np.abs(xe))
    up_w = near * lat * smoothstep(lower - 0.005, close_y + 0.01, p[:, 1]) * smoothstep(0.22, 0.14, p[:, 1] - upper + 0.1)
    lo_w = near * lat * smoothstep(close_y + 0.005, close_y - 0.01, p[:, 1]) * smoothstep(-0.14, -0.06, p[:, 1])
    a = np.where(up_w > 0, ang_up * up_w, -ang_lo * lo_w) * 1.3  # +: rolls the upper lid down
    ca, sa = np.cos(a), np.sin(a)
    yy = p[:, 1] * ca - p[:, 2] * sa
    zz = p[:, 1] * sa + p[:, 2] * ca
    # keep the chord outside the eyeball: push out by the sagitta of the arc
    push = (r * (1 / np.cos(a / 2) - 1) + 0.004 * (np.abs(a) > 0.01)) * (near > 0)
    rr = np.maximum(r, 1e-9)
    d[:, 0] = push * p[:, 0] / rr
    d[:, 1] = yy - p[:, 1] + push * p[:, 1] / rr
    d[:, 2] = zz - p[:, 2] + push * p[:, 2] / rr
    return d * near[:, None]


# --------------------------------------------------------------------------------------------
# Landmarks (68-style), NCC, excluded faces
# --------------------------------------------------------------------------------------------

def landmarks(M):
    """68 landmark vertex indices (0-based, iBUG-68 order, image-left = subject's right first)."""
    V, part, a, info = M["V"], M["part"], M["anatomy"], M["skin"]
    n_sk = info["n"]
    sk = np.arange(n_sk)
    P = V[:n_sk]
    side = info["side"]

    def nearest_front(x, y, subset=None, side_sel=None):
        cand = sk if subset is None else subset
        if side_sel is not None:
            cand = cand[side[cand] == side_sel] if side_sel != 0 else cand
        q = P[cand]
        front = q[:, 2] > 0.1
        cand, q = cand[front], q[front]
        # among vertices whose frontal projection is near (x, y), take the front-most
        d2 = (q[:, 0] - x) ** 2 + (q[:, 1] - y) ** 2
        best = np.argsort(d2)[:6]
        return int(cand[best[np.argmax(q[best, 2])]])

    out = []
    # jaw 0..16: from the subject's right (x<0) round the chin to the left
    for k in range(17):
        t = (k / 16.0) * 2 - 1  # -1..1
        angle = t * math.radians(78)
        yj = a.chin[1] + 0.02 + (0.32 + a.mouth_y * 0) * (1 - math.cos(angle)) * 1.25
        xj = math.sin(angle) * 0.62 * a.jw
        out.append(nearest_front(xj, yj))
    # brows 17..26, left to right in the image
    for xb in list(np.linspace(-0.43, -0.17, 5)) + list(np.linspace(0.17, 0.43, 5)):
        t = (abs(xb) - 0.17) / 0.26
        out.append(nearest_front(xb * a.hw, 0.45 + 0.05 * math.sin(math.pi * (1 - t) * 0.8)))
    # nose 27..35: bridge (4), base (5)
    for k in range(4):
        out.append(nearest_front(0.0, 0.30 - k * (0.30 - a.nose_tip[1]) / 3.2))
    for k in range(5):
        out.append(nearest_front((k - 2) * 0.05, a.nose_tip[1] - 0.07 + 0.02 * abs(k - 2)))
    # eyes 36..47: left corner, upper lid x2, right corner, lower lid x2 (image order)
    for s, c in ((-1, a.eye_c[0]), (1, a.eye_c[1])):
        for px, py in ((-1.0, 0), (-0.4, 1), (0.4, 1), (1.0, 0), (0.4, -1), (-0.4, -1)):
            xe = s * px * 0.124  # towards the outer corner
            u = xe / 0.128
            base = max(1 - u * u, 0)
            up = 0.058 * base ** 0.85 * (1 - 0.12 * u) + 0.012 * u
            lo = -0.040 * base ** 1.1 + 0.012 * u
            ye = up + 0.008 if py > 0 else (lo - 0.008 if py < 0 else 0.012 * u)
            out.append(nearest_front(c[0] + px * 0.124, c[1] + ye))
    # mouth outer 48..59, inner 60..67
    xc = a.mouth_half_w
    outer = [(-1, 0), (-0.6, 1), (-0.25, 1), (0, 1), (0.25, 1), (0.6, 1), (1, 0), (0.6, -1), (0.25, -1), (0, -1), (-0.25, -1), (-0.6, -1)]
    for px, py in outer:
        xx = px * xc
        u = min(abs(xx) / (xc + 0.005), 1)
        if py > 0:
            yy = a.mouth_y + 0.072 * (1 - u ** 2) ** 0.55 - 0.012 * math.exp(-(xx / 0.03) ** 2)
        elif py < 0:
            yy = a.mouth_y - 0.085 * (1 - u ** 2) ** 0.7
        else:
            yy = a.mouth_y + 0.004
        out.append(nearest_front(xx, yy))
    cols = info["cols"]
    rows = info["rows"]
    slit_row = np.where((rows == rows[info["n"] - 2]) & (np.arange(n_sk) > 0))[0]

    def slit_vertex(xx, lower):
        cand = slit_row[(side[slit_row] == (-1 if lower else 1))]
        if xx is None:
            return None
        return int(cand[np.argmin(np.abs(P[cand, 0] - xx))])

    corner_r = slit_row[side[slit_row] == 0]
    corner_r = corner_r[np.argsort(P[corner_r, 0])]
    inner = [int(corner_r[0]), slit_vertex(-0.5 * xc, False), slit_vertex(0.0, False), slit_vertex(0.5 * xc, False),
             int(corner_r[-1]), slit_vertex(0.5 * xc, True), slit_vertex(0.0, True), slit_vertex(-0.5 * xc, True)]
    out += inner
    del cols
    assert len(out) == 68
    return np.array(out, np.int32)


def face_normals(V, F):
    a, b, c = V[F[:, 0]], V[F[:, 1]], V[F[:, 2]]
    return np.cross(b - a, c - a)


def vertex_normals(V, F):
    fn = face_normals(V, F)
    vn = np.zeros_like(V)
    for k in range(3):
        np.add.at(vn, F[:, k], fn)
    nrm = np.linalg.norm(vn, axis=1, keepdims=True)
    return vn / np.maximum(nrm, 1e-12)


def orient_outward(M):
    """Flip faces of each part so normals point away from that part's interior (skin: from the head centre)."""
    V, F, part = M["V"], M["F"], M["part"]
    fpart = part[F[:, 0]]
    fn = face_normals(V, F)
    cen = V[F].mean(1)
    for pn in np.unique(part):
        sel = fpart == pn
        if pn == "skin":
            ref = HEAD_CENTRE
        else:
            ref = V[part == pn].mean(0)
        dots = np.einsum("ij,ij->i", fn[sel], cen[sel] - ref)
        if pn == "cavity":
            dots = -dots  # the cavity is seen from inside
        if np.median(dots) < 0:
            idx = np.where(sel)[0]
            F[idx] = F[idx][:, ::-1]


# --------------------------------------------------------------------------------------------
# Head pose rig
# --------------------------------------------------------------------------------------------

NECK_BOTTOM_Y = -2.0  # the field's bottom cut of the neck (original coordinates)


def pose_rig(M):
    """Pivot and per-vertex weights of the head rotation (original coordinates, before re-centring).

    The pivot sits on the neck's axis a little above the chin's height: behind and below the jaw, roughly
    where the skull meets the spine. Weight 1 on everything that is not skin (eyes, teeth, tongue, mouth
    interior, ears) and on the skin of the head; on the neck it falls smoothly (smoothstep) from 1 just below
    the chin to 0 a little above the bottom cut, so the neck bends and its bottom stays where it is.
    """
    V, part, a = M["V"], M["part"], M["anatomy"]
    y_pivot = a.chin[1] + 0.10
    pivot = np.array([0.0, y_pivot, -0.24 + 0.12 * (y_pivot + 0.6)])  # the field's neck centre at that height
    w = np.ones(len(V))
    sk = part == "skin"
    w[sk] = smoothstep(NECK_BOTTOM_Y + 0.1, a.chin[1] - 0.1, V[sk, 1])
    return pivot, w


def build_model(res="full"):
    layout = Layout(res)
    M = assemble(BASE_PARAMS, layout)
    orient_outward(M)
    V0 = M["V"].copy()
    # recentre on the face (like BFM's front model, whose mean shape covers the face only)
    face = (M["part"] == "skin") & (M["V"][:, 2] > 0.25) & (np.abs(M["V"][:, 1] - 0.0) < 0.9) \
        & np.isin(M["reg"], [R["skin"], R["lips"], R["brows"]])
    centre = V0[face].mean(0)
    centre[0] = 0.0  # keep exact left/right symmetry
    id_basis = []
    for name, key, step in ID_DIMS:
        p = dict(BASE_PARAMS)
        p[key] = p[key] + step
        Mi = assemble(p, layout)
        id_basis.append(Mi["V"] - V0)
    exp = expression_fields(M)
    V = V0 - centre
    M["V"] = V
    M["anatomy_centre"] = centre
    M["id_basis"] = np.stack(id_basis, -1)  # [N,3,K]
    M["exp_basis"] = exp
    M["landmarks"] = landmarks(dict(M, V=V0))
    lo, hi = V.min(0), V.max(0)
    M["ncc"] = (V - lo) / (hi - lo)
    M["eye_faces"] = np.where(np.isin(M["part"][M["F"][:, 0]], ["eye_l", "eye_r"]))[0].astype(np.int32)
    pivot, weight = pose_rig(dict(M, V=V0))
    M["pose_pivot"], M["pose_weight"] = pivot - centre, weight
    return M


def to_tensors(M):
    N = len(M["V"])
    t = {
        "mean_shape": M["V"].astype(np.float32),
        "id_basis": M["id_basis"].reshape(N * 3, -1).astype(np.float32),
        "exp_basis": M["exp_basis"].reshape(N * 3, -1).astype(np.float32),
        "triangles": M["F"].astype(np.int32),
        "ncc": M["ncc"].astype(np.float32),
        "keypoints": M["landmarks"].astype(np.int32),
        "eye_faces": M["eye_faces"].astype(np.int32),
        "vertex_region": M["reg"].astype(np.int32),
        "region_colors": np.array([REGION_COLORS[r] for r in REGIONS], np.float32),
        "region_specular": np.array([REGION_SPECULAR[r] for r in REGIONS], np.float32),
        "vertex_color": M["albedo"].astype(np.float32),
        "pose_pivot": M["pose_pivot"].astype(np.float32),
        "pose_weight": M["pose_weight"].astype(np.float32),
    }
    meta = {
        "format": FORMAT, "version": VERSION,
        "exp_names": ",".join(EXP_NAMES), "id_names": ",".join(n for n, _, _ in ID_DIMS),
        "region_names": ",".join(REGIONS),
        "units": "BFM units: 1 unit = 10 cm (micrometres/1e5); +x subject's left, +y up, +z towards the camera",
        "camera": json.dumps({"camera_distance": 10.0, "focal_224": 1015.0, "center_224": 112.0}),
        "basis_layout": "[3N,K], row 3*i+c is coordinate c of vertex i (BFM layout)",
        "keypoints": "68 vertex indices, 0-based, iBUG-68 order",
        "eye_faces": "indices into triangles; excluded from SECC (pixels whose nearest face is one become background)",
        "ncc": "[N,3] = (mean_shape - min) / (max - min) per axis over all vertices",
        "vertex_color": "[N,3] sRGB albedo: region colours blended softly across region borders",
        "pose": ("head rotation v' = v + pose_weight*(R(v - pose_pivot) - (v - pose_pivot)), R = R_yaw R_pitch R_roll "
                 "(right-handed about +y, +x, +z; tools/demo/raster_ref.py pose_vertices)"),
    }
    return t, meta


def expressed(t, id_coef=None, exp_coef=None):
    """Vertices [N,3] for coefficient vectors (either may be None)."""
    v = t["mean_shape"].astype(np.float64).reshape(-1)
    if id_coef is not None:
        v = v + t["id_basis"].astype(np.float64) @ np.asarray(id_coef, np.float64)
    if exp_coef is not None:
        v = v + t["exp_basis"].astype(np.float64) @ np.asarray(exp_coef, np.float64)
    return v.reshape(-1, 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output .safetensors path")
    ap.add_argument("--res", choices=sorted(RES), default="full")
    ap.add_argument("--preview", help="directory for 512x512 PNG previews")
    args = ap.parse_args()
    M = build_model(args.res)
    t, meta = to_tensors(M)
    safetensors_io.save_arrays(args.out, t, meta)
    print(f"{args.out}: {len(M['V'])} vertices, {len(M['F'])} triangles, "
          f"{len(M['eye_faces'])} eye faces, {os.path.getsize(args.out) / 1e6:.2f} MB")
    if args.preview:
        from tools.demo import raster_ref
        raster_ref.write_previews(t, args.preview)


if __name__ == "__main__":
    main()
