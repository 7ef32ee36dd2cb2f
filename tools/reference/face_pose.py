"""Head pose, EG3D camera and torso keypoints of a MimicTalk avatar (spec §1.3 steps 5, 8, 9; §4.3; §5.5).

Float64 numpy references of upstream's conventions (each function names the upstream code it follows):
- `rotation`: deep_3drecon `compute_rotation`: (Rz·Ry·Rx)ᵀ, applied to row vectors as v @ R + t.
- `eg3d_camera`: data_gen/eg3d/convert_to_eg3d_convention.py (`c2w`, not `convention_c2w`) + fixed intrinsics.
- `smooth_cameras`: inference/infer_utils.py `smooth_camera_sequence`: ±3 frames clipped at the ends; translation
  mean, rotation chordal L2 mean (scipy `Rotation.mean`: principal eigenvector of Σ q qᵀ), intrinsics untouched.
- `mirror_index` / `pose_sequence`: mimictalk_infer.py pose source: ping-pong index into a pose track, trans-z
  fixed to frame 0, then `map_to_init_pose` (additive offsets so that frame 0 equals the reference pose).
- `torso_keypoints`: data_util/face3d_helper.py `reconstruct_lm2d` with the lm68 `keypoints` used as stored in
  the .mat (no −1: the upstream off-by-one), mapped to [−1, 1] and clamped as get_driving_motion does.
- `smooth_keypoints`: infer_utils.py `smooth_features_xd`: box filter k=7 over time, symmetric padding
  (x2 x1 x0 | x0 … x_{T−1} | x_{T−1} x_{T−2} x_{T−3}); needs T ≥ 3 (upstream fails on shorter sequences).
Upstream computes the rotation and camera centre in float32; these references use float64 (differences ≈1e-7).
"""
import numpy as np

CAMERA_DISTANCE = 10.0
FOCAL_224, CENTER_224 = 1015.0, 112.0
EG3D_FOCAL = 2985.29 / 700          # fx = fy, normalised by the image size
EG3D_SCALE = 0.27                   # "normalize camera radius"
EG3D_OFFSET = np.array([0.0, 0.006, 0.161])
SMOOTH_FRAMES = 7
TORSO_KEYPOINTS = (0, 8, 16, 27)    # jaw-left, chin, jaw-right, nose bridge (torso_kp_num = 4)


def rotation(euler):
    """[..., 3] radians (x, y, z) -> [..., 3, 3] = (Rz·Ry·Rx)ᵀ."""
    e = np.asarray(euler, np.float64)
    x, y, z = e[..., 0], e[..., 1], e[..., 2]
    one, zero = np.ones_like(x), np.zeros_like(x)

    def mat(rows):
        return np.stack([np.stack(r, -1) for r in rows], -2)

    rx = mat([[one, zero, zero], [zero, np.cos(x), -np.sin(x)], [zero, np.sin(x), np.cos(x)]])
    ry = mat([[np.cos(y), zero, np.sin(y)], [zero, one, zero], [-np.sin(y), zero, np.cos(y)]])
    rz = mat([[np.cos(z), -np.sin(z), zero], [np.sin(z), np.cos(z), zero], [zero, zero, one]])
    return np.swapaxes(rz @ ry @ rx, -1, -2)


def eg3d_camera(euler, trans):
    """[T,3], [T,3] -> [T,25]: c2w (4×4, row-major) then the normalised intrinsics (3×3)."""
    euler = np.asarray(euler, np.float64).reshape(-1, 3)
    trans = np.asarray(trans, np.float64).reshape(-1, 3)
    r = rotation(euler)
    t = trans - np.array([0.0, 0.0, CAMERA_DISTANCE])
    centre = -np.einsum("tij,tj->ti", r, t) * EG3D_SCALE + EG3D_OFFSET
    c2w = np.tile(np.eye(4), (len(euler), 1, 1))
    c2w[:, :3, :3] = r @ np.diag([1.0, -1.0, -1.0])
    c2w[:, :3, 3] = centre
    k = np.array([[EG3D_FOCAL, 0, 0.5], [0, EG3D_FOCAL, 0.5], [0, 0, 1.0]])
    return np.concatenate([c2w.reshape(-1, 16), np.tile(k.reshape(1, 9), (len(euler), 1))], 1)


def quaternion(m):
    """Rotation matrices [..., 3, 3] -> unit quaternions [..., 4] (w, x, y, z), Shepperd's branch choice."""
    m = np.asarray(m, np.float64)
    flat = m.reshape(-1, 3, 3)
    out = np.empty((len(flat), 4))
    for i, r in enumerate(flat):
        tr = np.trace(r)
        d = np.array([tr, r[0, 0], r[1, 1], r[2, 2]])
        k = int(np.argmax(d))
        if k == 0:
            s = 2 * np.sqrt(1 + tr)
            q = [s / 4, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
        elif k == 1:
            s = 2 * np.sqrt(1 + r[0, 0] - r[1, 1] - r[2, 2])
            q = [(r[2, 1] - r[1, 2]) / s, s / 4, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s]
        elif k == 2:
            s = 2 * np.sqrt(1 + r[1, 1] - r[0, 0] - r[2, 2])
            q = [(r[0, 2] - r[2, 0]) / s, (r[0, 1] + r[1, 0]) / s, s / 4, (r[1, 2] + r[2, 1]) / s]
        else:
            s = 2 * np.sqrt(1 + r[2, 2] - r[0, 0] - r[1, 1])
            q = [(r[1, 0] - r[0, 1]) / s, (r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, s / 4]
        q = np.asarray(q)
        out[i] = q / np.linalg.norm(q)
    return out.reshape(m.shape[:-2] + (4,))


def quaternion_matrix(q):
    w, x, y, z = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def rotation_mean(mats):
    """Chordal L2 mean of rotations [n,3,3]: principal eigenvector of Σ q qᵀ (sign-free, as scipy's mean)."""
    q = quaternion(mats)
    _, vectors = np.linalg.eigh(q.T @ q)
    return quaternion_matrix(vectors[:, -1])


def _smoothed(cameras, lo, hi):
    """One smoothed camera from rows lo … hi−1: mean translation, chordal-mean rotation, the row's intrinsics."""
    poses = cameras[lo:hi, :16].reshape(-1, 4, 4)
    pose = np.eye(4)
    pose[:3, 3] = poses[:, :3, 3].mean(0)
    pose[:3, :3] = rotation_mean(poses[:, :3, :3])
    return pose.reshape(16)


def smooth_cameras(cameras, kernel=SMOOTH_FRAMES):
    """smooth_camera_sequence: each frame's window [i−k//2, i+k//2] clipped to the sequence."""
    cam = np.asarray(cameras, np.float64)
    n, half = len(cam), kernel // 2
    out = cam.copy()
    for i in range(n):
        # Only the 3×4 block changes; the bottom row of c2w stays (0, 0, 0, 1) as in every input row.
        pose = _smoothed(cam, max(0, i - half), min(n, i + half + 1)).reshape(4, 4)
        rows = out[i, :16].reshape(4, 4)
        rows[:3] = pose[:3]
        out[i, :16] = rows.reshape(16)
    return out


def mirror_index(index, length):
    """Ping-pong index into a track of `length` frames: 0 … L−1, L−1 … 0, 0 … (ends repeated)."""
    if length <= 0:
        raise ValueError(f"a pose track needs at least one frame (got {length})")
    turn, rest = divmod(index, length)
    return rest if turn % 2 == 0 else length - rest - 1


def pose_sequence(count, ref_euler, ref_trans, track_euler=None, track_trans=None, start=0, map_to_init=True):
    """Per-frame euler/trans [count,3] for frames start … start+count−1 of a session.

    Static pose (no track): the reference pose every frame. Pose track: ping-pong index into the track; trans-z is
    fixed to the track's frame 0 and, with map_to_init, euler/trans are offset so that frame 0 equals the
    reference pose. Upstream does this over one utterance from frame 0 (start=0); a live session continues the
    same global frame count, so the anchors stay the track's frame 0 and the head never jumps between utterances.
    """
    ref_euler = np.asarray(ref_euler, np.float64).reshape(3)
    ref_trans = np.asarray(ref_trans, np.float64).reshape(3)
    if track_euler is None:
        return np.tile(ref_euler, (count, 1)), np.tile(ref_trans, (count, 1))
    te = np.asarray(track_euler, np.float64).reshape(-1, 3)
    tt = np.asarray(track_trans, np.float64).reshape(-1, 3)
    if len(te) != len(tt) or len(te) == 0:
        raise ValueError(f"pose track: euler has {len(te)} frames and trans {len(tt)}; expected the same, at least 1")
    index = [mirror_index(start + i, len(te)) for i in range(count)]
    euler, trans = te[index].copy(), tt[index].copy()
    trans[:, 2] = tt[0, 2]
    if map_to_init:
        euler += ref_euler - te[0]
        trans += ref_trans - tt[0]
    return euler, trans


def utterance_cameras(frames, ref_euler, ref_trans, track_euler=None, track_trans=None, map_to_init=True):
    """Upstream's offline path: poses for T = frames motion rows, cameras, smoothing over all T (the renderer then
    uses the first T−4 rows, so the last rendered frames are smoothed with poses that are never rendered)."""
    euler, trans = pose_sequence(frames, ref_euler, ref_trans, track_euler, track_trans, 0, map_to_init)
    return smooth_cameras(eg3d_camera(euler, trans))


def live_cameras(start, count, ref_euler, ref_trans, track_euler=None, track_trans=None, map_to_init=True,
                 kernel=SMOOTH_FRAMES):
    """Cameras for frames start … start+count−1 of an endless session: the smoothing of one long sequence that
    begins at frame 0 (window clipped only there), computed from the poses ±kernel//2 around the range (so a
    live frame needs kernel//2 frames of pose look-ahead, which a pose track always has)."""
    half = kernel // 2
    lo = max(0, start - half)
    euler, trans = pose_sequence(start + count + half - lo, ref_euler, ref_trans, track_euler, track_trans, lo,
                                 map_to_init)
    cams = eg3d_camera(euler, trans)
    out = cams[start - lo:start - lo + count].copy()
    for i in range(count):
        g = start + i
        pose = _smoothed(cams, max(0, g - half) - lo, g + half + 1 - lo).reshape(4, 4)
        rows = out[i, :16].reshape(4, 4)
        rows[:3] = pose[:3]
        out[i, :16] = rows.reshape(16)
    return out


def torso_keypoints(model, id_coef, exp, euler, trans):
    """reconstruct_lm2d (lm68, upstream indexing) → [T,68,2] in [−1,1]: x right, y down."""
    exp = np.asarray(exp, np.float64).reshape(-1, model["exp_basis"].shape[1])
    t = len(exp)
    id_coef = np.broadcast_to(np.asarray(id_coef, np.float64).reshape(-1, model["id_basis"].shape[1]),
                              (t, model["id_basis"].shape[1]))
    idx = np.asarray(model["lm68_torso_vertices"], np.int64)
    n = len(model["mean_shape"])
    key_mean = np.asarray(model["mean_shape"], np.float64)[idx]
    key_id = np.asarray(model["id_basis"], np.float64).reshape(n, 3, -1)[idx]
    key_exp = np.asarray(model["exp_basis"], np.float64).reshape(n, 3, -1)[idx]
    face = key_mean[None] + np.einsum("kcj,tj->tkc", key_id, id_coef) + np.einsum("kcj,tj->tkc", key_exp, exp)
    lm = face @ rotation(np.asarray(euler, np.float64).reshape(t, 3)) + np.asarray(trans, np.float64).reshape(t, 1, 3)
    z = CAMERA_DISTANCE - lm[..., 2]
    u = (FOCAL_224 * lm[..., 0] / z + CENTER_224) / 224.0
    v = (224.0 - (FOCAL_224 * lm[..., 1] / z + CENTER_224)) / 224.0
    return np.clip((np.stack([u, v], -1) - 0.5) / 0.5, -1.0, 1.0)


def smooth_keypoints(kp, kernel=SMOOTH_FRAMES):
    """smooth_features_xd over time: [T, ...] -> [T, ...]."""
    kp = np.asarray(kp, np.float64)
    t, pad = len(kp), (kernel - 1) // 2
    if t < pad:
        raise ValueError(f"keypoint smoothing needs at least {pad} frames (got {t}); upstream fails here too")
    padded = np.concatenate([kp[:pad][::-1], kp, kp[t - pad:][::-1]], 0)
    return sum(padded[j:j + t] for j in range(kernel)) / kernel
