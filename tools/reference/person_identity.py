"""Per-identity constants of a MimicTalk avatar computed at conversion (spec §1.3 step 2), as upstream computes them.

Upstream (`inference/mimictalk_infer.py::prepare_batch_from_inp`) takes the reference frame `person_ds['gt_img']`
([1,3,S,S] in [-1,1]; frame 0 of the training video), makes it uint8 with `((x + 1)·127.5).int()` (truncation),
segments it with MediaPipe's selfie-multiclass model and derives from the segmentation:
- `segmap` [1,6,S,S]: the one-hot class map, channels {0 background, 1 hair, 2 body skin, 3 face skin, 4 clothes,
  5 others (accessories)} (`mp_segmenter.py::_cal_seg_map`, `scatter_np`), as float 0/1;
- `ref_torso_img` [1,3,S,S]: `extract_segment_imgs.py::inpaint_torso_job(img, segmap)[0]`: the head classes
  blacked out, the torso and neck continued upwards into the head region with darkened copies of their top row
  (9 rows for the torso, 53 for the neck, whose top is first pushed down by up to 4 px), the neck inpainting
  blurred (OpenCV `GaussianBlur(img, (5, 5), 4)`: the third positional argument is sigma, which upstream passes as
  `cv2.BORDER_DEFAULT` = 4), everything outside neck ∪ torso ∪ inpainting set to 0, then (v − 127.5)/127.5;
- `bg_img` [1,3,S,S]: `extract_background([img], [segmap], 'knn')`: pixels farther than 10 px from every
  non-background pixel keep their colour, every other pixel takes the colour of the nearest such pixel; then
  (v − 127.5)/127.5.

The segmentation comes from a file the user exports with upstream's own tool: `extract_segment_imgs.py` (run by
upstream's training preparation) writes `data/processed/videos/<video_id>/segmaps/00000000.png` for frame 0, an RGB
PNG whose colours encode the classes (`encode_segmap_mask_to_image`): background (255,255,255), hair (255,255,0),
body skin (255,0,255), face skin (0,255,255), clothes (255,0,0), others (0,255,0). A `.npy` holding the one-hot
[6,S,S] (or [1,6,S,S]) 0/1 array that `_cal_seg_map` returns is accepted too. Nothing else is.
Or the segmentation is computed here as upstream computes it (`mediapipe_segmap`): MediaPipe's ImageSegmenter in
IMAGE mode with a category mask, on the uint8 reference frame as an SRGB image, with a model file the user points to
(upstream's `selfie_multiclass_256x256.tflite`); the category mask [S,S] of class indices becomes the one-hot
[6,S,S] as `scatter_np` makes it. The `mediapipe` package is optional: only this route imports it.

Deviations (documented in docs/avatars.md §6): the blur uses float arithmetic rounded to nearest where OpenCV uses
8-bit fixed point (±1 of 255 on the blurred neck pixels); nearest-neighbour ties in the background fill may pick
another equally near pixel than scikit-learn's KD-tree; upstream segments the float→uint8 round trip of gt_img,
its tool the JPEG frame it was read from (values differ by at most 1).
"""
import os
import struct
import zlib

import numpy as np

SEG_CLASSES = ("background", "hair", "body_skin", "face_skin", "clothes", "others")
SEG_COLOURS = ((255, 255, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255), (255, 0, 0), (0, 255, 0))
BACKGROUND_MARGIN = 10      # extract_background: "sure background" is farther than 10 px from the person
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class IdentityError(ValueError):
    """A refused per-identity input; the message names the file and what was expected."""


# ---------------------------------------------------------------------------------------------------------- PNG
def read_png(path):
    """8-bit non-interlaced PNG (grey, RGB or RGBA) → uint8 [H, W, C]."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise IdentityError(f"{path}: file not found") from None
    if not data.startswith(PNG_SIGNATURE):
        raise IdentityError(f"{path}: not a PNG file (no PNG signature)")
    pos, header, idat = 8, None, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise IdentityError(f"{path}: truncated PNG chunk {kind!r}")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not idat:
        raise IdentityError(f"{path}: PNG without IHDR or IDAT")
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace != 0:
        raise IdentityError(f"{path}: PNG with bit depth {depth}, colour type {colour}, interlace {interlace}; "
                            "expected 8-bit grey/RGB/RGBA, not interlaced (upstream's cv2.imwrite writes 8-bit RGB)")
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as e:
        raise IdentityError(f"{path}: damaged PNG image data ({e})") from None
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise IdentityError(f"{path}: PNG data holds {len(raw)} bytes, expected {height * (stride + 1)}")
    rows = np.frombuffer(raw, np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if kind == 0:
            cur = line
        elif kind == 1:
            cur = line.copy()
            for x in range(channels, stride):
                cur[x] = (cur[x] + cur[x - channels]) & 255
        elif kind == 2:
            cur = (line + prev) & 255
        elif kind in (3, 4):
            cur = line.copy()
            for x in range(stride):
                a = cur[x - channels] if x >= channels else 0
                b = prev[x]
                if kind == 3:
                    cur[x] = (cur[x] + ((a + b) >> 1)) & 255
                else:
                    c = prev[x - channels] if x >= channels else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    cur[x] = (cur[x] + pred) & 255
        else:
            raise IdentityError(f"{path}: PNG row {y} has unknown filter type {kind}")
        out[y] = cur
        prev = cur
    return out.reshape(height, width, channels)


def write_png(path, rgb, filters=(0,)):
    """uint8 [H, W, 3] → RGB PNG; row y uses filter filters[y % len(filters)] (0 none, 1 sub, 2 up, 3 average,
    4 Paeth), so tests exercise every filter the reader undoes. Deterministic bytes."""
    rgb = np.ascontiguousarray(rgb, np.uint8)
    height, width, channels = rgb.shape
    flat = rgb.reshape(height, width * channels).astype(np.int32)
    lines = []
    prev = np.zeros(width * channels, np.int32)
    for y in range(height):
        kind, cur = filters[y % len(filters)], flat[y]
        left = np.concatenate([np.zeros(channels, np.int32), cur[:-channels]])
        upleft = np.concatenate([np.zeros(channels, np.int32), prev[:-channels]])
        if kind == 0:
            enc = cur
        elif kind == 1:
            enc = cur - left
        elif kind == 2:
            enc = cur - prev
        elif kind == 3:
            enc = cur - ((left + prev) >> 1)
        else:
            p = left + prev - upleft
            pa, pb, pc = np.abs(p - left), np.abs(p - prev), np.abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
            enc = cur - pred
        lines.append(bytes([kind]) + (enc & 255).astype(np.uint8).tobytes())
        prev = cur

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(PNG_SIGNATURE)
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(b"".join(lines), 9)))
        f.write(chunk(b"IEND", b""))


# -------------------------------------------------------------------------------------------------- segmentation
def encode_segmap(onehot):
    """One-hot [6, H, W] → the colour image upstream's tool writes ([H, W, 3] uint8)."""
    labels = np.argmax(onehot, 0)
    return np.asarray(SEG_COLOURS, np.uint8)[labels]


def load_segmap(path, size=None):
    """The user's segmentation of the reference frame → one-hot uint8 [6, S, S] (see the module docstring); with
    `size`, S must equal it."""
    if path.lower().endswith(".png"):
        img = read_png(path)
        if img.shape[2] != 3:
            raise IdentityError(f"{path}: PNG with {img.shape[2]} channel(s), expected RGB: the class colours of "
                                "upstream's segmaps/*.png (encode_segmap_mask_to_image)")
        if size is not None and img.shape[:2] != (size, size):
            raise IdentityError(f"{path}: segmentation of {img.shape[1]}x{img.shape[0]} px, expected {size}x{size} "
                                "(the reference frame's size)")
        onehot = np.stack([np.all(img == np.asarray(c, np.uint8), -1) for c in SEG_COLOURS]).astype(np.uint8)
        unknown = onehot.sum(0) == 0
        if unknown.any():
            y, x = map(int, np.argwhere(unknown)[0])
            raise IdentityError(f"{path}: {int(unknown.sum())} pixel(s) have no class colour, first at row {y}, column "
                                f"{x}: {tuple(int(v) for v in img[y, x])}; expected one of "
                                + ", ".join(f"{n} {c}" for n, c in zip(SEG_CLASSES, SEG_COLOURS)))
        return onehot
    if path.lower().endswith(".npy"):
        try:
            arr = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise IdentityError(f"{path}: file not found") from None
        except ValueError as e:
            raise IdentityError(f"{path}: not a plain numeric .npy ({e})") from None
        if arr.ndim == 4 and arr.shape[0] == 1:
            arr = arr[0]
        s = size if size is not None else (arr.shape[-1] if arr.ndim == 3 else -1)
        if arr.shape != (6, s, s) or arr.dtype.kind not in "biuf":
            raise IdentityError(f"{path}: array of shape {list(arr.shape)} ({arr.dtype}), expected the one-hot "
                                f"[6, {s}, {s}] (or [1, 6, {s}, {s}]) of _cal_seg_map")
        if not np.isin(arr, (0, 1)).all() or not (arr.sum(0) == 1).all():
            raise IdentityError(f"{path}: not one-hot: every pixel needs exactly one of the 6 classes set to 1 "
                                "(values 0/1)")
        return arr.astype(np.uint8)
    raise IdentityError(f"{path}: segmentation must be upstream's segmaps/*.png (class colours) or a one-hot .npy "
                        "[6, S, S]")


def category_mask_to_onehot(mask, source="segmenter"):
    """MediaPipe's category mask of class indices, [S, S] or [S, S, 1] → one-hot uint8 [6, S, S], as upstream's
    `scatter_np(segmap[None, None], classSeg=6)[0]` (whose indexing fails on an index of 6 or more; refused here)."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if mask.ndim != 2 or mask.dtype.kind not in "iu":
        raise IdentityError(f"{source}: category mask of shape {list(mask.shape)} ({mask.dtype}), expected [S, S] "
                            "class indices")
    if mask.size and int(mask.max()) >= len(SEG_CLASSES):
        y, x = map(int, np.argwhere(mask >= len(SEG_CLASSES))[0])
        raise IdentityError(f"{source}: the model gives class {int(mask[y, x])} at row {y}, column {x}; expected the "
                            f"{len(SEG_CLASSES)} classes of selfie_multiclass_256x256 ("
                            + ", ".join(f"{i} {n}" for i, n in enumerate(SEG_CLASSES)) + ")")
    return (mask[None] == np.arange(len(SEG_CLASSES))[:, None, None]).astype(np.uint8)


def import_mediapipe(switch="--segment-model"):
    """The optional `mediapipe` package's pieces the segmentation route needs, or a refusal naming the package."""
    try:
        import mediapipe
        from mediapipe.tasks import python as tasks
        from mediapipe.tasks.python import vision
    except ImportError as e:
        raise IdentityError(f"{switch} needs the Python package 'mediapipe' (pip install mediapipe), which this "
                            f"Python cannot import ({e}); or pass --segmap with the segmentation upstream's "
                            "extract_segment_imgs.py wrote") from None
    return mediapipe, tasks, vision


def mediapipe_segmap(gt_img, model_path):
    """Segments the reference frame as upstream's `MediapipeSegmenter._cal_seg_map` does in
    `prepare_batch_from_inp`: gt_img made uint8 (`reference_uint8`), an SRGB `mp.Image` of it, an ImageSegmenter in
    IMAGE mode with `output_category_mask=True` on `model_path`, `segment`, the category mask → one-hot [6, S, S]."""
    if not os.path.isfile(model_path):
        raise IdentityError(f"{model_path}: file not found (--segment-model: the MediaPipe segmentation model, "
                            "upstream's selfie_multiclass_256x256.tflite)")
    mp, tasks, vision = import_mediapipe()
    img = np.ascontiguousarray(reference_uint8(gt_img))
    options = vision.ImageSegmenterOptions(base_options=tasks.BaseOptions(model_asset_path=model_path),
                                           running_mode=vision.RunningMode.IMAGE, output_category_mask=True)
    try:
        segmenter = vision.ImageSegmenter.create_from_options(options)
        try:
            result = segmenter.segment(mp.Image(image_format=mp.ImageFormat.SRGB, data=img))
            mask = np.array(result.category_mask.numpy_view())
        finally:
            segmenter.close()
    except Exception as e:  # MediaPipe reports a bad model as any of several exception types
        raise IdentityError(f"{model_path}: MediaPipe could not segment the reference frame with this model "
                            f"({type(e).__name__}: {e})") from None
    if mask.shape[:2] != img.shape[:2]:
        raise IdentityError(f"{model_path}: category mask of {mask.shape[1]}x{mask.shape[0]} px for a "
                            f"{img.shape[1]}x{img.shape[0]} reference frame")
    return category_mask_to_onehot(mask, model_path)


# ---------------------------------------------------------------------------------------------------- images
def reference_uint8(gt_img):
    """person_ds gt_img [1,3,S,S] float in [-1,1] → uint8 [S,S,3] as upstream: float32 ((x + 1)·127.5).int()."""
    x = np.asarray(gt_img, np.float32).reshape(3, *np.shape(gt_img)[-2:]).transpose(1, 2, 0)
    v = np.trunc((x + np.float32(1)) * np.float32(127.5)).astype(np.int32)
    return v.astype(np.uint8)


def unit_range(img):
    """uint8 [S,S,3] → float32 [1,3,S,S] in [-1,1]: (v − 127.5)/127.5 in float32 as upstream's torch code."""
    x = (img.astype(np.float32) - np.float32(127.5)) / np.float32(127.5)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def gaussian_blur_5(img, sigma=4.0):
    """OpenCV GaussianBlur(img, (5, 5), sigma) on uint8 with BORDER_REFLECT_101, in float64, rounded."""
    k = np.exp(-((np.arange(5) - 2.0) ** 2) / (2 * sigma * sigma))
    k /= k.sum()
    x = img.astype(np.float64)
    for axis in (0, 1):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (2, 2)
        p = np.pad(x, pad, mode="reflect")  # numpy "reflect" = OpenCV REFLECT_101 (edge not repeated)
        n = x.shape[axis]
        x = sum(k[i] * np.take(p, np.arange(i, i + n), axis=axis) for i in range(5))
    return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)


def _top_per_column(mask):
    """Coordinates [m, 2] (row, col) of the top pixel of each column of mask, by column, and each column's count."""
    coords = np.argwhere(mask)
    order = np.lexsort((coords[:, 0], coords[:, 1]))
    coords = coords[order]
    _, first, count = np.unique(coords[:, 1], return_index=True, return_counts=True)
    return coords[first], count


def _paint_up(img, top, colours, length):
    """Rows top, top−1, …, top−length+1 of each column get the colour ·0.98^k, truncated to uint8 (numpy negative
    row indices wrap around to the bottom, as upstream's indexing does). Returns the painted coordinates."""
    coords = top[None].repeat(length, 0)
    coords[:, :, 0] -= np.arange(length)[:, None]
    coords = coords.reshape(-1, 2)
    if len(coords) and coords[:, 0].min() < -img.shape[0]:
        raise IdentityError(f"a {img.shape[0]}-row reference frame is too small for upstream's {length}-row "
                            "inpainting above the neck")
    values = (colours[None].astype(np.float64) * (0.98 ** np.arange(length)).reshape(length, 1, 1)).reshape(-1, 3)
    img[coords[:, 0], coords[:, 1]] = values.astype(np.uint8)
    return coords


def inpaint_torso(img, seg):
    """inpaint_torso_job(img, segmap)[0]: the torso reference image, uint8 [S,S,3]."""
    from scipy.ndimage import binary_dilation

    head = (seg[1] + seg[3] + seg[5]).astype(bool)
    torso = seg[4].astype(bool)
    out = img.copy()
    out[head] = 0
    torso_paint = None
    if torso.any():
        top, _ = _top_per_column(torso)
        keep = head[top[:, 0] - 1, top[:, 1]]
        if keep.any():
            top = top[keep]
            painted = _paint_up(out, top, img[top[:, 0], top[:, 1]], 9)
            torso_paint = np.zeros(head.shape, bool)
            torso_paint[painted[:, 0], painted[:, 1]] = True
    vertical = np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]], bool)
    neck = binary_dilation(seg[2].astype(bool), structure=vertical, iterations=3)
    inpaint = np.zeros(head.shape, bool)
    if neck.any():
        top, count = _top_per_column(neck)
        keep = head[top[:, 0] - 1, top[:, 1]]
        top = top[keep]
        top[:, 0] += np.minimum(count[keep] - 1, 4)
        painted = _paint_up(out, top, img[top[:, 0], top[:, 1]], 48 + 4 + 1)
        inpaint[painted[:, 0], painted[:, 1]] = True
    blurred = gaussian_blur_5(out)
    out[inpaint] = blurred[inpaint]
    keep = neck | torso | inpaint
    if torso_paint is not None:
        keep |= torso_paint
    out[~keep] = 0
    return out


def knn_background(img, seg, path="segmap"):
    """extract_background([img], [segmap], 'knn'): uint8 [S,S,3]."""
    from scipy.spatial import cKDTree

    h, w = seg.shape[1:]
    background = seg[0].astype(bool)
    person = np.argwhere(~background)
    if len(person) == 0:
        raise IdentityError(f"{path}: the segmentation has no person pixel (every pixel is background)")
    grid = np.argwhere(np.ones((h, w), bool))
    dist, _ = cKDTree(person).query(grid, k=1)
    sure = (dist > BACKGROUND_MARGIN).reshape(h, w)
    if not sure.any():
        raise IdentityError(f"{path}: no background pixel is farther than {BACKGROUND_MARGIN} px from the person; "
                            "upstream's KNN background needs some")
    out = np.zeros_like(img)
    out[sure] = img[sure]
    sure_xy = np.argwhere(sure)
    rest = np.argwhere(~sure)
    if len(rest):
        _, nearest = cKDTree(sure_xy).query(rest, k=1)
        src = sure_xy[nearest]
        out[rest[:, 0], rest[:, 1]] = out[src[:, 0], src[:, 1]]
    return out


def identity_images(gt_img, seg, segmap_path="segmap"):
    """{ref_torso_img, bg_img, segmap} float32 from gt_img [1,3,S,S] and the one-hot segmentation [6,S,S]."""
    img = reference_uint8(gt_img)
    return {"ref_torso_img": unit_range(inpaint_torso(img, seg)),
            "bg_img": unit_range(knn_background(img, seg, segmap_path)),
            "segmap": np.ascontiguousarray(seg.astype(np.float32)[None])}
