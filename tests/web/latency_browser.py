"""End-to-end latency on loopback through the browser page: audio entering the page → the matching mouth movement
arriving at the page's WebRTC viewer (WHEP, the <video> element).

Headless Chromium's fake microphone plays espeak-ng speech (2 s of silence, then short utterances each followed
by 1.5 s of silence) from the moment the page starts capturing. The page encodes it with WebCodecs (20 ms Opus
packets) and streams protocol v1 to `avatard serve` (demo avatar, output `webrtc`); the avatar comes back through
WHEP into the page's <video>.

Per utterance: t_audio = when the page's AudioWorklet had the first loud 128-sample quantum (RMS > 0.03) after at
least 300 ms of quiet (performance.now() on the page when its message arrives); t_mouth = receiveTime of the first
video frame after it (requestVideoFrameCallback: when the frame's last packet arrived) whose mouth box (rows
135–175, columns 100–160 of the 256² demo picture) has more than 1 % of its pixels darker than luma 60. Latency =
t_mouth − t_audio; utterances whose mouth was already open in the 300 ms before are skipped.

    [AVATARD_BIN=.build/release/avatard] .build/web-venv/bin/python tests/web/latency_browser.py \
        [--utterances 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import webtest
from test_browser import mouth_latencies
from webtest import MOUTH, MOUTH_MONITOR, TOKEN, Browser, harness

WORDS = ["Hello there", "Good morning", "Banana", "Open the window", "Wonderful", "Apple pie", "Maybe tomorrow",
         "All right", "How are you", "Absolutely", "Orange", "Amazing", "Okay then", "Another one", "Alpha"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    words = [WORDS[i % len(WORDS)] for i in range(args.utterances)]
    samples, spans = webtest.utterances(words, lead=2.0, gap=1.5)
    duration = len(samples) / 48000
    work = Path(tempfile.mkdtemp(prefix="avatard-latency-"))
    wav = work / "speech.wav"
    webtest.write_wav(wav, samples, 48000)

    daemon = harness.Daemon()
    browser = Browser(wav)
    try:
        b = browser
        b.driver.get(f"http://127.0.0.1:{daemon.port}/")
        b.driver.find_element("id", "token").send_keys(TOKEN)
        b.js("document.getElementById('token').dispatchEvent(new Event('change'))")
        deadline = time.monotonic() + 10
        while not b.js("return document.getElementById('avatar').options.length > 0"):
            if time.monotonic() > deadline:
                raise RuntimeError("the page did not list the avatars")
            time.sleep(0.05)
        b.js(MOUTH_MONITOR, list(MOUTH))
        b.driver.find_element("id", "start").click()
        time.sleep(duration + 2.0)
        onsets = b.js("return window.avatard.onsets")
        mouth = b.js("return window.mouth")
        stats = b.js("return window.avatard.statsHistory")
        b.driver.find_element("id", "stop").click()
        deadline = time.monotonic() + 15
        while not b.js("return window.avatard.ended") and time.monotonic() < deadline:
            time.sleep(0.1)
        ended = b.js("return window.avatard.ended")
    finally:
        browser.quit()
        daemon.stop()

    latencies = np.array(mouth_latencies(onsets, mouth))
    internal = [(s["latency_ms_p50"], s["latency_ms_p95"]) for s in stats if s["latency_ms_p95"] > 0]
    result = {
        "binary": str(harness.binary()),
        "utterances": len(words),
        "onsets": len(onsets),
        "measured": int(len(latencies)),
        "p50_ms": float(np.percentile(latencies, 50)) if len(latencies) else None,
        "p95_ms": float(np.percentile(latencies, 95)) if len(latencies) else None,
        "min_ms": float(latencies.min()) if len(latencies) else None,
        "max_ms": float(latencies.max()) if len(latencies) else None,
        "session_internal_p50_p95_ms": [float(np.median([p for p, _ in internal])), float(np.median([q for _, q in internal]))]
        if internal else None,
        "frames": ended and ended["frames"],
        "frames_dropped": ended and ended["frames_dropped"],
        "latencies_ms": [round(float(x), 1) for x in latencies],
    }
    print(json.dumps({k: v for k, v in result.items() if k != "latencies_ms"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
