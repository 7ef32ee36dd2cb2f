"""The BFM09 front face model (spec §4.1) from the user's BFM files, as upstream's `transferBFM09` builds it.

Inputs (the folder upstream calls `deep_3drecon/BFM`; the files are the user's, never shipped or downloaded):
- route "front": `BFM_model_front.mat` (meanshape [1,3N], idBase [3N,80], exBase [3N,64], tri [F,3] 1-based,
  keypoints [68,1] 1-based), the file upstream writes once and loads afterwards;
- route "raw" (used when BFM_model_front.mat is absent, as upstream does): `01_MorphableModel.mat` (shapeMU, shapePC,
  shapeEV of BFM 2009), `Exp_Pca.bin` (Guo et al.: int32 K, float32 mean[3M], float32 PCs[K][3M] over the
  M = 53,215 vertices of `BFM_exp_idx.mat`), `std_exp.txt` (K standard deviations), `BFM_exp_idx.mat` (trimIndex
  [M,1]: 1-based BFM vertex of each expression vertex), `BFM_front_idx.mat` (idx [N,1]: 1-based expression vertex
  of each front vertex) and `facemodel_info.mat` (tri, keypoints).
Plus, from the upstream checkout's `deep_3drecon/`: `ncc_code.npy` (float32 [3,N]) and the eye faces
`bfm_left_eye_faces.npy`, `bfm_right_eye_faces.npy` (1-based face numbers, removed from SECC).

The arithmetic follows `transferBFM09` step for step in the input dtypes (PC·EV, then /1e5, first 80 / 64
columns, the two index maps composed), then casts to float32 and re-centres the mean as `ParametricFaceModel`
does at load (float32 vertex mean subtracted), so both routes give bit-identical tensors.
Texture (texPC/texMU) is not read: nothing at inference uses it.
"""
import hashlib
import json
import os

import numpy as np

ID_DIM, EXP_DIM = 80, 64
BFM_FILES = ("01_MorphableModel.mat", "Exp_Pca.bin", "std_exp.txt", "BFM_exp_idx.mat", "BFM_front_idx.mat",
             "facemodel_info.mat")
FRONT_FILE = "BFM_model_front.mat"
UPSTREAM_FILES = ("ncc_code.npy", "bfm_left_eye_faces.npy", "bfm_right_eye_faces.npy")
WEIGHTS = "face_model.safetensors"
FRAGMENT = "face_model.component.json"   # written by the stand-alone `convert.py face-model` only
CAMERA = {"distance": 10.0, "focal": 1015.0, "center": 112.0, "size": 224}


class FaceModelError(ValueError):
    """A refused input; the message names the file, the key and what was expected."""


def _need(path):
    if not os.path.isfile(path):
        raise FaceModelError(f"{path}: file not found")
    return path


def load_mat(path, keys):
    """Reads a MATLAB v4/v5 .mat file (scipy.io) and returns {key: ndarray} for the keys asked for."""
    try:
        import scipy.io
    except ImportError:
        raise FaceModelError(f"{path}: reading .mat files needs SciPy (apt-get install python3-scipy, or "
                             "scripts/setup.sh deps)") from None

    _need(path)
    try:
        # Only the variables asked for: 01_MorphableModel.mat also holds the texture model (hundreds of MB).
        mat = scipy.io.loadmat(path, variable_names=list(keys))
    except NotImplementedError:
        raise FaceModelError(f"{path}: MATLAB v7.3 (HDF5) files are not read; save it again with -v7") from None
    except Exception as e:  # scipy raises several types for damaged files
        raise FaceModelError(f"{path}: not a MATLAB .mat file ({type(e).__name__}: {e})") from None
    out = {}
    for key in keys:
        if key not in mat:
            have = sorted(name for name, _, _ in scipy.io.whosmat(path))
            raise FaceModelError(f"{path}: key '{key}' is missing (the file has {have})")
        value = mat[key]
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
            raise FaceModelError(f"{path}: key '{key}' is not a numeric array ({getattr(value, 'dtype', type(value))})")
        out[key] = value
    return out


def _shape(path, key, array, expected):
    """expected: tuple with None for free dimensions."""
    ok = array.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, array.shape))
    if not ok:
        want = "[" + ", ".join("*" if e is None else str(e) for e in expected) + "]"
        raise FaceModelError(f"{path}: key '{key}' has shape {list(array.shape)}, expected {want}")


def _index(path, key, array, count, low, high):
    """A 1-based index column ([n,1] or [1,n] or [n]) as int64, every value in [low, high]."""
    flat = np.asarray(array).reshape(-1)
    if array.ndim > 2 or (array.ndim == 2 and 1 not in array.shape):
        raise FaceModelError(f"{path}: key '{key}' has shape {list(array.shape)}, expected a column [n, 1]")
    if count is not None and flat.size != count:
        raise FaceModelError(f"{path}: key '{key}' has {flat.size} entries, expected {count}")
    if flat.dtype.kind == "f" and not np.array_equal(flat, np.round(flat)):
        raise FaceModelError(f"{path}: key '{key}' holds non-integer indices")
    flat = flat.astype(np.int64)
    if flat.size and (flat.min() < low or flat.max() > high):
        raise FaceModelError(f"{path}: key '{key}' has values in [{flat.min()}, {flat.max()}], expected [{low}, {high}]")
    return flat


def read_exp_pca(path, n_vertices):
    """Exp_Pca.bin: int32 K, then float32 mean [3M] (unused), then float32 PCs [K, 3M]; returns PCs as [3M, K]."""
    _need(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4:
            raise FaceModelError(f"{path}: {size} bytes, too short for the Exp_Pca.bin header")
        k = int(np.frombuffer(head, "<i4")[0])
        if not 0 < k <= 4096:
            raise FaceModelError(f"{path}: header says {k} expression bases, expected a positive count (79)")
        expected = 4 + 4 * 3 * n_vertices * (1 + k)
        if size != expected:
            raise FaceModelError(
                f"{path}: {size} bytes, expected {expected} for {k} bases over {n_vertices} vertices "
                f"(the vertex count of BFM_exp_idx.mat 'trimIndex')")
        data = np.frombuffer(f.read(), "<f4")
    pcs = data[3 * n_vertices:].reshape(k, 3 * n_vertices)
    return np.ascontiguousarray(pcs.T)


def read_std_exp(path, k):
    _need(path)
    try:
        values = np.loadtxt(path)
    except ValueError as e:
        raise FaceModelError(f"{path}: not a list of numbers ({e})") from None
    if values.size != k:
        raise FaceModelError(f"{path}: {values.size} values, expected {k} (one per Exp_Pca.bin basis)")
    return values


def front_from_raw(bfm_dir):
    """transferBFM09: returns {meanshape [1,3N], idBase [3N,80], exBase [3N,64], tri, keypoints} in input dtypes."""
    p = {name: os.path.join(bfm_dir, name) for name in BFM_FILES}
    for path in p.values():
        _need(path)
    bfm = load_mat(p["01_MorphableModel.mat"], ("shapeMU", "shapePC", "shapeEV"))
    shape_pc, shape_ev, shape_mu = bfm["shapePC"], bfm["shapeEV"], bfm["shapeMU"]
    _shape(p["01_MorphableModel.mat"], "shapePC", shape_pc, (None, None))
    n3, ks = shape_pc.shape
    if n3 % 3 or ks < ID_DIM:
        raise FaceModelError(f"{p['01_MorphableModel.mat']}: key 'shapePC' has shape {list(shape_pc.shape)}, "
                             f"expected [3V, K] with K >= {ID_DIM} (BFM 2009: [160470, 199])")
    if shape_ev.size != ks or (shape_ev.ndim == 2 and 1 not in shape_ev.shape):
        raise FaceModelError(f"{p['01_MorphableModel.mat']}: key 'shapeEV' has shape {list(shape_ev.shape)}, expected [{ks}, 1]")
    if shape_mu.size != n3 or (shape_mu.ndim == 2 and 1 not in shape_mu.shape):
        raise FaceModelError(f"{p['01_MorphableModel.mat']}: key 'shapeMU' has shape {list(shape_mu.shape)}, expected [{n3}, 1]")
    n_bfm = n3 // 3

    trim = load_mat(p["BFM_exp_idx.mat"], ("trimIndex",))["trimIndex"]
    trim = _index(p["BFM_exp_idx.mat"], "trimIndex", trim, None, 1, n_bfm) - 1
    n_exp = trim.size
    exp_pc = read_exp_pca(p["Exp_Pca.bin"], n_exp)
    ke = exp_pc.shape[1]
    if ke < EXP_DIM:
        raise FaceModelError(f"{p['Exp_Pca.bin']}: {ke} expression bases, expected at least {EXP_DIM}")
    exp_ev = read_std_exp(p["std_exp.txt"], ke)
    front = load_mat(p["BFM_front_idx.mat"], ("idx",))["idx"]
    index_exp = _index(p["BFM_front_idx.mat"], "idx", front, None, 1, n_exp) - 1
    index_shape = trim[index_exp]

    # Upstream: basis·EV, then /1e5 (µm → decimetre), keep the first 80 / 64 columns.
    id_base = shape_pc * np.reshape(shape_ev, [-1, ks])
    id_base = id_base / 1e5
    id_base = id_base[:, :ID_DIM]
    ex_base = exp_pc * np.reshape(exp_ev, [-1, ke])
    ex_base = ex_base / 1e5
    ex_base = ex_base[:, :EXP_DIM]
    id_base = id_base.reshape(-1, 3, ID_DIM)[index_shape].reshape(-1, ID_DIM)
    ex_base = ex_base.reshape(-1, 3, EXP_DIM)[index_exp].reshape(-1, EXP_DIM)
    mean = np.reshape(shape_mu, [-1, 3]) / 1e5
    mean = mean[index_shape].reshape(1, -1)
    info = load_mat(p["facemodel_info.mat"], ("tri", "keypoints"))
    return {"meanshape": mean, "idBase": id_base, "exBase": ex_base, "tri": info["tri"], "keypoints": info["keypoints"],
            "_files": {"tri": p["facemodel_info.mat"], "keypoints": p["facemodel_info.mat"]}}


def front_from_mat(path):
    m = load_mat(path, ("meanshape", "idBase", "exBase", "tri", "keypoints"))
    n3 = m["meanshape"].size
    if m["meanshape"].ndim != 2 or 1 not in m["meanshape"].shape or n3 % 3:
        raise FaceModelError(f"{path}: key 'meanshape' has shape {list(m['meanshape'].shape)}, expected [1, 3N]")
    _shape(path, "idBase", m["idBase"], (n3, ID_DIM))
    _shape(path, "exBase", m["exBase"], (n3, EXP_DIM))
    m["_files"] = {"tri": path, "keypoints": path}
    return m


def finish(front, upstream_dir):
    """Float32 tensors of the project format from a front dict and the upstream checkout's deep_3drecon files."""
    n = front["meanshape"].size // 3
    # ParametricFaceModel: astype(float32), then subtract the float32 vertex mean.
    mean = front["meanshape"].astype(np.float32).reshape(-1, 3)
    centroid = np.mean(mean, axis=0, keepdims=True)
    mean = mean - centroid
    tri_path, kp_path = front["_files"]["tri"], front["_files"]["keypoints"]
    tri = front["tri"]
    _shape(tri_path, "tri", tri, (None, 3))
    tri = _index(tri_path, "tri", tri.reshape(-1, 1), None, 1, n).reshape(-1, 3) - 1
    # Face3DHelper indexes with the .mat values as they are (one past each landmark): they must stay below N.
    kp = _index(kp_path, "keypoints", front["keypoints"], 68, 1, n - 1)

    d = os.path.join(upstream_dir, "deep_3drecon")
    ncc_path = _need(os.path.join(d, "ncc_code.npy"))
    try:
        ncc = np.load(ncc_path, allow_pickle=False)
    except ValueError as e:
        raise FaceModelError(f"{ncc_path}: not a plain .npy array ({e})") from None
    if ncc.shape != (3, n) or ncc.dtype.kind != "f":
        raise FaceModelError(f"{ncc_path}: shape {list(ncc.shape)} ({ncc.dtype}), expected float [3, {n}]")
    eyes = []
    for side in ("left", "right"):
        path = _need(os.path.join(d, f"bfm_{side}_eye_faces.npy"))
        try:
            faces = np.load(path, allow_pickle=False)
        except ValueError as e:
            raise FaceModelError(f"{path}: not a plain .npy array ({e})") from None
        if faces.dtype.kind not in "iu":
            raise FaceModelError(f"{path}: dtype {faces.dtype}, expected integer face numbers (1-based)")
        eyes.append(_index(path, "faces", faces.reshape(-1, 1), None, 1, len(tri)) - 1)
    eye_faces = np.unique(np.concatenate(eyes))
    keep = np.ones(len(tri), bool)
    keep[eye_faces] = False
    tensors = {
        "mean_shape": mean.astype(np.float32),
        "id_basis": front["idBase"].astype(np.float32),
        "exp_basis": front["exBase"].astype(np.float32),
        "triangles": tri.astype(np.int32),
        "eye_faces": eye_faces.astype(np.int32),
        "secc_triangles": tri[keep].astype(np.int32),
        "ncc": np.ascontiguousarray(ncc.T).astype(np.float32),
        "keypoints": (kp - 1).astype(np.int32),
        "lm68_torso_vertices": kp.astype(np.int32),
    }
    for name in ("mean_shape", "id_basis", "exp_basis", "ncc"):
        if not np.isfinite(tensors[name]).all():
            raise FaceModelError(f"the converted tensor '{name}' holds NaN or Inf (check the input files)")
    return tensors, centroid.reshape(3).astype(np.float64)


def metadata():
    return {
        "format": "avatard-face-model", "version": "1", "kind": "bfm09_front",
        "exp_names": ",".join(f"bfm_exp_{i}" for i in range(EXP_DIM)),
        "id_names": ",".join(f"bfm_id_{i}" for i in range(ID_DIM)),
        "units": "decimetre (BFM micrometres / 1e5); +x subject's left, +y up, +z towards the camera",
        "camera": "SECC: z' = 10 - z, focal 1015 at 224 px (scaled with the image), x negated before PyTorch3D",
    }


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def convert(bfm_dir, upstream_dir, out_dir, progress=lambda msg: None, write_component=True):
    """Writes out_dir/face_model.safetensors (and, with write_component, the component description FRAGMENT: the
    bundle manifest's `face_model` entry, which `convert.py mimictalk` writes into manifest.json itself); returns
    {"face_model": entry}."""
    from tools.reference import safetensors_io

    if not os.path.isdir(bfm_dir):
        raise FaceModelError(f"{bfm_dir}: --bfm-dir is not a directory")
    if not os.path.isdir(os.path.join(upstream_dir, "deep_3drecon")):
        raise FaceModelError(f"{upstream_dir}: --upstream must be the MimicTalk checkout (no deep_3drecon/ in it)")
    front_path = os.path.join(bfm_dir, FRONT_FILE)
    if os.path.isfile(front_path):
        route, sources = "front", [front_path]
        progress(f"reading {front_path}")
        front = front_from_mat(front_path)
    else:
        route, sources = "raw", [os.path.join(bfm_dir, f) for f in BFM_FILES]
        progress(f"no {FRONT_FILE}: building it from {', '.join(BFM_FILES)} as transferBFM09 does")
        front = front_from_raw(bfm_dir)
    tensors, centroid = finish(front, upstream_dir)
    sources += [os.path.join(upstream_dir, "deep_3drecon", f) for f in UPSTREAM_FILES]
    n, f = len(tensors["mean_shape"]), len(tensors["triangles"])
    progress(f"  {n} vertices, {f} triangles ({len(tensors['eye_faces'])} eye faces removed for SECC), "
             f"{ID_DIM} identity and {EXP_DIM} expression bases")
    if n != 35709:
        progress(f"  note: {n} vertices, not the 35,709 of the BFM09 front model (a synthetic or different model)")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, WEIGHTS)
    progress(f"writing {path}")
    safetensors_io.save_arrays(path, tensors, metadata())
    fragment = {"face_model": {
        "kind": "bfm09_front",
        "weights": [WEIGHTS],
        "config": {
            "vertices": n, "triangles": f, "secc_triangles": len(tensors["secc_triangles"]),
            "id_dim": ID_DIM, "exp_dim": EXP_DIM, "camera": dict(CAMERA),
            "mean_centroid": [float(c) for c in centroid],
            "source": {"route": route, "files": {os.path.basename(s): sha256(s) for s in sources}},
        },
        "tensors": {k: list(v.shape) for k, v in sorted(tensors.items())},
    }}
    if write_component:
        frag_path = os.path.join(out_dir, FRAGMENT)
        with open(frag_path, "w") as fh:
            fh.write(json.dumps(fragment, indent=2) + "\n")
        progress(f"wrote {frag_path}")
    return fragment


def load(path):
    """Reads a converted face model: {name: ndarray} (see docs/avatars.md for the tensors)."""
    from tools.reference import safetensors_io

    tensors, meta = safetensors_io.load_arrays(path)
    if meta.get("format") != "avatard-face-model":
        raise FaceModelError(f"{path}: metadata format is {meta.get('format')!r}, expected 'avatard-face-model'")
    return tensors
