"""Contact sheet: a decoded test video becomes a PNG grid of the right size with the jaw bars drawn."""
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(HERE), "contact_sheet.py")


def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    idat, at = b"", 8
    while at < len(data):
        n, kind = struct.unpack(">I", data[at:at + 4])[0], data[at + 4:at + 8]
        if kind == b"IDAT":
            idat += data[at + 8:at + 8 + n]
        at += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 3 * w)
    return raw[:, 1:].reshape(h, w, 3)


class ContactSheetTests(unittest.TestCase):
    def test_grid_of_frames_with_jaw_bars(self):
        with tempfile.TemporaryDirectory() as d:
            video = os.path.join(d, "v.mkv")
            subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=8", "pattern=white", "!",
                            "video/x-raw,width=40,height=40,framerate=25/1", "!", "videoconvert", "!", "video/x-raw,format=I420", "!", "x264enc", "!",
                            "matroskamux", "!", "filesink", f"location={video}"], check=True)
            motion = os.path.join(d, "m.csv")
            with open(motion, "w") as f:
                f.write("frame,jaw_open\n" + "".join(f"{i},{1.0 if i == 0 else 0.0}\n" for i in range(8)))
            out = os.path.join(d, "sheet.png")
            subprocess.run([sys.executable, SCRIPT, video, "--out", out, "--motion", motion,
                            "--columns", "2", "--rows", "2", "--tile", "16"], check=True, capture_output=True)
            sheet = read_png(out)
            # 2 columns of 16 px with 4 px gaps; 2 rows of 16 px + 6 px bar with 4 px gaps.
            self.assertEqual(sheet.shape, (2 * (16 + 6 + 4) + 4, 2 * (16 + 4) + 4, 3))
            # Tiles are the (white) frames; only the first frame's bar is drawn, full width.
            self.assertGreater(sheet[4:20, 4:20].mean(), 200)
            self.assertTrue((sheet[4 + 16 + 2:4 + 16 + 6, 4:20] == 235).all())
            self.assertTrue((sheet[4 + 16 + 2:4 + 16 + 6, 24:40] == 24).all())
            # A strip of consecutive frames from frame 0: only the first tile has a bar; out of range is refused.
            strip = os.path.join(d, "strip.png")
            subprocess.run([sys.executable, SCRIPT, video, "--out", strip, "--motion", motion, "--columns", "4",
                            "--rows", "1", "--tile", "16", "--first", "0"], check=True, capture_output=True)
            s = read_png(strip)
            self.assertEqual(s.shape, (16 + 6 + 4 + 4, 4 * (16 + 4) + 4, 3))
            self.assertTrue((s[22:26, 4:20] == 235).all() and (s[22:26, 24:40] == 24).all())
            bad = subprocess.run([sys.executable, SCRIPT, video, "--out", strip, "--columns", "4", "--rows", "1",
                                  "--first", "6"], capture_output=True, text=True)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("not all in its 8 frames", bad.stderr)


if __name__ == "__main__":
    unittest.main()
