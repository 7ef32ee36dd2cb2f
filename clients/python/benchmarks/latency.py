"""End-to-end latency on loopback: audio entering the Python client → the matching mouth movement arriving
at an RTP viewer.

Starts the avatard binary (demo avatar, the shipped rtp-vp8 preset pointed at loopback ports) and a viewer
(gst-launch-1.0: udpsrc → rtpvp8depay → vp8dec → 8-bit luma on a pipe, each decoded frame stamped when it
arrives here). Speech from espeak-ng (22.05 kHz) is fed to ``Session.send_pcm`` 20 ms at a time on the wall
clock, as a microphone or a streaming TTS would; utterances are separated by silence, in which the demo
face keeps its mouth closed.

For each utterance: t_audio = when the 20 ms chunk holding its first loud sample (5 ms RMS > 0.03) was handed
to send_pcm; t_mouth = arrival of the first decoded frame after t_audio whose mouth region (a fixed box
over the demo head's lips) has more than 1 % dark pixels (the open mouth; a closed mouth has none). The
latency is t_mouth − t_audio. An utterance is skipped if the mouth was already open in the 300 ms before it.

    [AVATARD_BIN=.build/release/avatard] .build/client-venv/bin/python clients/python/benchmarks/latency.py \
        [--utterances 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import harness  # noqa: E402

import avatard_client as ac  # noqa: E402

WIDTH = HEIGHT = 256
MOUTH = (slice(135, 175), slice(100, 160))   # rows, columns of the demo head's mouth at 256 × 256
DARK = 60                                      # luma below this is the inside of an open mouth
OPEN = 0.01                                    # fraction of dark pixels that counts as open
WORDS = ["Hello there", "Good morning", "Banana", "Open the window", "Wonderful", "Apple pie", "Maybe tomorrow",
         "All right", "How are you", "Absolutely", "Orange", "Amazing", "Okay then", "Another one", "Alpha"]


class Viewer:
    """An RTP/VP8 receiver that stamps each decoded frame with its arrival time and mouth opening."""

    def __init__(self, port: int):
        caps = "application/x-rtp,media=video,clock-rate=90000,encoding-name=VP8,payload=97"
        self.process = subprocess.Popen(
            ["gst-launch-1.0", "-q", "udpsrc", "address=127.0.0.1", f"port={port}", f"caps={caps}", "!",
             "rtpvp8depay", "!", "vp8dec", "!", "videoconvert", "!", "video/x-raw,format=GRAY8", "!",
             "fdsink", "fd=1", "sync=false"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.frames: list[tuple[float, float]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        size = WIDTH * HEIGHT
        fd = self.process.stdout.fileno()
        buf = bytearray()
        while True:
            chunk = os.read(fd, size - len(buf))
            if not chunk:
                return
            buf += chunk
            if len(buf) == size:
                now = time.monotonic()
                frame = np.frombuffer(bytes(buf), np.uint8).reshape(HEIGHT, WIDTH)
                self.frames.append((now, float((frame[MOUTH] < DARK).mean())))
                buf.clear()

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def onset(pcm: np.ndarray, rate: int) -> int:
    window = rate // 200
    x = pcm.astype(np.float64) / 32768
    for i in range(0, len(x) - window, window):
        if np.sqrt(np.mean(x[i:i + window] ** 2)) > 0.03:
            return i
    raise ValueError("no loud sample in utterance")


async def measure(url: str, preset: str, count: int, gap: float) -> dict:
    rate = 22050
    silence = np.zeros(int(gap * rate), np.int16)
    pcm_parts = [np.zeros(2 * rate, np.int16)]
    onsets = []
    position = len(pcm_parts[0])
    for i in range(count):
        words, word_rate = harness.speech(WORDS[i % len(WORDS)])
        assert word_rate == rate
        onsets.append(position + onset(words, rate))
        pcm_parts += [words, silence]
        position += len(words) + len(silence)
    pcm = np.concatenate(pcm_parts)
    chunk = rate // 50
    stats = []
    session = await ac.connect(url, token=harness.TOKEN, avatar="demo", output=preset)
    session.add_listener(lambda e: stats.append(e) if isinstance(e, ac.Stats) else None)
    entered = []
    t0 = time.monotonic()
    for i, start in enumerate(range(0, len(pcm), chunk)):
        await asyncio.sleep(max(0.0, t0 + i * 0.02 - time.monotonic()))
        entered.append(time.monotonic())
        await session.send_pcm(pcm[start:start + chunk], rate)
    await asyncio.sleep(1.0)
    ended = await session.close()
    return dict(ready=session.ready, ended=ended, stats=stats,
                audio_onsets=[entered[s // chunk] for s in onsets])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=int, default=40)
    parser.add_argument("--gap", type=float, default=1.5, help="silence after each utterance (s)")
    parser.add_argument("--json", help="write the per-utterance figures here")
    args = parser.parse_args()

    sink = harness.UdpSink()
    ports = sink.ports
    video = sink.sockets.pop("video_port")
    video.close()                       # the viewer takes this port
    viewer = Viewer(ports["video_port"])
    daemon = harness.Daemon(extra_config=harness.rtp_preset("rtp-latency", ports))
    try:
        time.sleep(0.5)                 # the viewer's pipeline is up before the first packet
        result = asyncio.run(measure(daemon.url, "rtp-latency", args.utterances, args.gap))
    finally:
        daemon.stop()
        time.sleep(0.3)
        viewer.close()
        sink.close()

    frames = viewer.frames
    latencies, skipped = [], 0
    for t in result["audio_onsets"]:
        before = [o for (ft, o) in frames if t - 0.3 <= ft <= t]
        after = next((ft for (ft, o) in frames if ft > t and o > OPEN), None)
        if after is None or any(o > OPEN for o in before):
            skipped += 1
            continue
        latencies.append((after - t) * 1000)
    lat = np.array(latencies)
    last = result["stats"][-1] if result["stats"] else None
    report = {
        "utterances": args.utterances, "measured": len(lat), "skipped": skipped,
        "frames_received": len(frames), "frames_rendered": result["ended"].frames,
        "e2e_ms_p50": round(float(np.percentile(lat, 50)), 1), "e2e_ms_p95": round(float(np.percentile(lat, 95)), 1),
        "e2e_ms_min": round(float(lat.min()), 1), "e2e_ms_max": round(float(lat.max()), 1),
        "output_delay_ms": result["ready"].latency_ms,
        "session_latency_ms_p50": last.latency_ms_p50 if last else None,
        "session_latency_ms_p95": last.latency_ms_p95 if last else None,
        "frames_dropped": result["ended"].frames_dropped,
        "per_utterance_ms": [round(x, 1) for x in latencies],
    }
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
