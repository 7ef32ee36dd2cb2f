#!/usr/bin/python3
"""Contact sheet of a rendered avatar video: every k-th frame in a grid, PNG.

Usage: /usr/bin/python3 -m tools.demo.contact_sheet VIDEO --out SHEET.png [--motion CSV] [--columns 8]
       [--rows 4] [--tile 160]

VIDEO is anything GStreamer decodes (e.g. the MP4 of `avatard render`); frames are decoded and scaled to the
tile size with gst-launch-1.0. With --motion (the CSV of `avatard render --motion-out`), a bar under each tile shows the frame's
jaw_open coefficient (white; full tile width = 1.0) and the frame's time is encoded as the tile's position
(row-major, evenly spaced across the video). Needs only NumPy and GStreamer.
"""
import argparse
import csv
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np


def decode_tiles(path, size):
    """Every frame scaled to size × size by GStreamer, as uint8 [N, size, size, 3]."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "frames.rgb")
        subprocess.run(["gst-launch-1.0", "-q", "filesrc", f"location={path}", "!", "decodebin", "!", "videoconvert", "!",
                        "videoscale", "method=lanczos", "!",
                        f"video/x-raw,format=RGB,width={size},height={size},pixel-aspect-ratio=1/1", "!",
                        "filesink", f"location={raw}"], check=True)
        data = np.fromfile(raw, dtype=np.uint8)
    stride = ((size * 3 + 3) // 4) * 4  # GStreamer pads RGB rows to 4 bytes
    frames = data.size // (stride * size)
    return data[:frames * stride * size].reshape(frames, size, stride)[:, :, :size * 3].reshape(frames, size, size, 3)


def write_png(path, rgb):
    h, w, _ = rgb.shape
    rows = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(rows, 9)))
        f.write(chunk(b"IEND", b""))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video")
    p.add_argument("--out", required=True)
    p.add_argument("--motion", help="per-frame motion CSV (avatard render --motion-out)")
    p.add_argument("--columns", type=int, default=8)
    p.add_argument("--rows", type=int, default=4)
    p.add_argument("--tile", type=int, default=160, help="tile size in pixels")
    p.add_argument("--first", type=int, help="a strip: frames first, first + step, … instead of evenly spaced")
    p.add_argument("--step", type=int, default=1, help="frame step of a strip (with --first)")
    args = p.parse_args()

    frames = decode_tiles(args.video, args.tile)
    if len(frames) == 0:
        sys.exit(f"{args.video}: no video frames decoded")
    jaw = None
    if args.motion:
        with open(args.motion, newline="") as f:
            table = list(csv.DictReader(f))
        if table and "jaw_open" in table[0]:
            jaw = [float(r["jaw_open"]) for r in table]
    n = args.columns * args.rows
    if args.first is not None:
        picks = args.first + args.step * np.arange(n)
        if args.first < 0 or args.step < 1 or picks[-1] >= len(frames):
            sys.exit(f"{args.video}: frames {args.first}…{picks[-1]} (step {args.step}) are not all in its {len(frames)} frames")
    else:
        picks = np.linspace(0, len(frames) - 1, n).round().astype(int)
    t, bar, gap = args.tile, 6, 4
    sheet = np.full((args.rows * (t + bar + gap) + gap, args.columns * (t + gap) + gap, 3), 24, np.uint8)
    for k, idx in enumerate(picks):
        r, c = divmod(k, args.columns)
        y, x = gap + r * (t + bar + gap), gap + c * (t + gap)
        sheet[y:y + t, x:x + t] = frames[idx]
        if jaw is not None and idx < len(jaw):
            length = int(round(max(0.0, min(1.0, jaw[idx])) * t))
            sheet[y + t + 2:y + t + bar, x:x + length] = 235
    write_png(args.out, sheet)
    print(f"{args.out}: {n} of {len(frames)} frames, {sheet.shape[1]}×{sheet.shape[0]}")


if __name__ == "__main__":
    main()
