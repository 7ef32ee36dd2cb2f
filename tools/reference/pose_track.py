"""Reads a head-pose track (per-frame euler/trans) without executing anything from the file.

Accepted `.npy` files:
- upstream's 3DMM fit of a video (`fit_3dmm_landmark.py` saves `np.save(name, coeff_dict, allow_pickle=True)`): a
  0-d object array whose pickle holds a dict of arrays with at least `euler` [L,3] and `trans` [L,3];
- a plain numeric array [L, 6]: euler (radians) then trans, per frame.
The pickled form is read with a restricted unpickler: the only globals it resolves are numpy's array and dtype
reconstructors (building plain arrays from raw bytes) and numpy scalars; anything else (a class or a function
that unpickling would call) is refused with UnsafePickleError naming it. Nothing from the file is executed.
"""
import pickle

import numpy as np

from tools.reference.restricted_load import UnsafePickleError


class PoseTrackError(ValueError):
    """A refused pose track; the message names the file and what was expected."""


class _ArrayPlaceholder:
    """Stands in for numpy.ndarray during unpickling; BUILD hands it the array state as plain data."""

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) == 5):
            raise UnsafePickleError(f"unexpected ndarray state {type(state).__name__}")
        _, shape, dtype, fortran, data = state
        if not isinstance(dtype, np.dtype) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise UnsafePickleError("ndarray state with a bad dtype or shape")
        if dtype.kind == "O":
            if not isinstance(data, list) or len(data) != int(np.prod(shape, dtype=np.int64)):
                raise UnsafePickleError("object ndarray state is not a list of its elements")
            self.value = data[0] if shape == () else data
            return
        if not isinstance(data, (bytes, bytearray)):
            raise UnsafePickleError("numeric ndarray state without raw bytes")
        count = int(np.prod(shape, dtype=np.int64))
        if len(data) != count * dtype.itemsize:
            raise UnsafePickleError(f"ndarray of shape {list(shape)} {dtype} with {len(data)} bytes")
        array = np.frombuffer(bytes(data), dtype=dtype, count=count)
        self.value = array.reshape(shape, order="F" if fortran else "C").copy()


class _NdarrayType:
    """The `numpy.ndarray` argument of _reconstruct; never instantiated as the real class."""


def _reconstruct(cls, shape, typecode):
    if not isinstance(cls, _NdarrayType):
        raise UnsafePickleError("numpy _reconstruct of something other than ndarray")
    return _ArrayPlaceholder()


def _dtype(name, align=False, copy=False):
    dtype = np.dtype(name, bool(align), bool(copy))
    if dtype.kind not in "biufO":
        raise UnsafePickleError(f"numpy dtype {name!r} refused (numeric or object only)")
    return dtype


def _scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biuf" or not isinstance(data, bytes):
        raise UnsafePickleError(f"numpy scalar of dtype {dtype!r} refused (numeric dtypes only)")
    return np.frombuffer(data, dtype=dtype)[0]


_NDARRAY = _NdarrayType()
_ALLOWED = {}
for _core in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_core, "_reconstruct")] = _reconstruct
    _ALLOWED[(_core, "scalar")] = _scalar
_ALLOWED[("numpy", "ndarray")] = _NDARRAY
_ALLOWED[("numpy", "dtype")] = _dtype


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise UnsafePickleError(f"refusing to unpickle global '{module}.{name}': only numpy arrays and plain values")


def _resolve(obj):
    if isinstance(obj, _ArrayPlaceholder):
        return _resolve(getattr(obj, "value", None))
    if isinstance(obj, dict):
        return {k: _resolve(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v) for v in obj)
    return obj


def load_npy(path):
    """A .npy file as an ndarray, or (object arrays) the restricted-unpickled object they hold."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            _, _, dtype = read_header(f)
            if dtype.kind != "O":
                f.seek(0)
                return np.lib.format.read_array(f, allow_pickle=False)
            return _resolve(_Unpickler(f, encoding="latin1").load())
    except FileNotFoundError:
        raise PoseTrackError(f"{path}: file not found") from None
    except UnsafePickleError as e:
        raise UnsafePickleError(f"{path}: {e}") from None
    except (ValueError, EOFError, pickle.UnpicklingError, TypeError) as e:
        raise PoseTrackError(f"{path}: not a readable .npy file ({e})") from None


def load_pose_track(path):
    """Returns (euler [L,3], trans [L,3]) float64 from a pose-track .npy (see the module docstring)."""
    obj = load_npy(path)
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "iuf":
        if obj.ndim != 2 or obj.shape[1] != 6 or len(obj) == 0:
            raise PoseTrackError(f"{path}: array of shape {list(obj.shape)}, expected [L, 6] (euler then trans)")
        euler, trans = obj[:, :3], obj[:, 3:]
    elif isinstance(obj, dict):
        for key in ("euler", "trans"):
            if key not in obj:
                raise PoseTrackError(f"{path}: key '{key}' is missing (the dict has {sorted(map(str, obj))})")
        euler, trans = (np.asarray(obj[k]) for k in ("euler", "trans"))
        for key, value in (("euler", euler), ("trans", trans)):
            if value.dtype.kind not in "iuf" or value.ndim != 2 or value.shape[1] != 3 or len(value) == 0:
                raise PoseTrackError(f"{path}: key '{key}' has shape {list(value.shape)} ({value.dtype}), expected [L, 3]")
        if len(euler) != len(trans):
            raise PoseTrackError(f"{path}: 'euler' has {len(euler)} frames and 'trans' {len(trans)}")
    else:
        raise PoseTrackError(f"{path}: holds {type(obj).__name__}, expected a dict with 'euler' and 'trans' or an [L, 6] array")
    euler, trans = np.asarray(euler, np.float64), np.asarray(trans, np.float64)
    if not (np.isfinite(euler).all() and np.isfinite(trans).all()):
        raise PoseTrackError(f"{path}: the pose track holds NaN or Inf")
    return euler, trans
