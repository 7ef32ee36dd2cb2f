"""The browser page in Debian's headless Chromium (WebDriver): a fake microphone plays espeak-ng speech, the page
encodes it with WebCodecs and streams protocol v1, and the avatar comes back through WHEP into the <video>. The
mouth region of the frames the page receives moves while the speech plays and rests after it; a speech file played
from the page moves it again; barge-in and stop work. A screenshot goes to docs/images/browser-page.png."""

from __future__ import annotations

import os
import tempfile
import time
import unittest
from pathlib import Path

import webtest
from webtest import MOUTH, MOUTH_MONITOR, TOKEN, Browser, harness

OPEN = 0.01          # fraction of dark pixels in the mouth box that counts as an open mouth


def mouth_latencies(onsets: list[float], mouth: list[dict], *, window: float = 1500) -> list[float]:
    """For each speech onset (page clock, ms), the time until the first received frame with an open mouth, skipping
    onsets whose mouth was already open in the 300 ms before."""
    out = []
    for t in onsets:
        before = [m for m in mouth if t - 300 <= m["t"] < t]
        if any(m["dark"] > OPEN for m in before):
            continue
        after = [m for m in mouth if t <= m["t"] < t + window and m["dark"] > OPEN]
        if after:
            out.append(after[0]["t"] - t)
    return out


class BrowserPageTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        webtest.chromium_paths()
        cls.daemon = harness.Daemon()
        cls.dir = Path(tempfile.mkdtemp(prefix="avatard-browser-test-"))
        cls.samples, cls.spans = webtest.utterances(["Hello there! I am talking to you from the browser."],
                                                    lead=1.0, gap=3.0)
        cls.wav = cls.dir / "speech.wav"
        webtest.write_wav(cls.wav, cls.samples, 48000)
        cls.file_wav = cls.dir / "file.wav"
        file_samples, _ = webtest.utterances(["This sentence comes from a file."], lead=0.2, gap=0.5)
        webtest.write_wav(cls.file_wav, file_samples, 48000)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def setUp(self):
        self.browser = Browser(self.wav)
        self.addCleanup(self.browser.quit)

    def wait(self, script: str, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.browser.js(script)
            if value:
                return value
            time.sleep(0.05)
        log = self.browser.js("return document.getElementById('log').textContent")
        self.fail(f"{what} within {timeout} s; page log:\n{log}\ndaemon:\n{self.daemon.log_tail()}")

    def test_talk_watch_file_barge_in_and_stop(self):
        b = self.browser
        b.driver.get(f"http://127.0.0.1:{self.daemon.port}/")
        self.assertEqual(b.driver.title, "avatard")
        # The daemon has tokens: the page says so until one is given.
        self.wait("return document.getElementById('status').textContent.includes('token')", 5, "token prompt")
        b.driver.find_element("id", "token").send_keys(TOKEN)
        b.js("document.getElementById('token').dispatchEvent(new Event('change'))")
        self.wait("return document.getElementById('avatar').options.length > 0", 5, "avatar list")
        self.assertEqual(b.js("return document.getElementById('avatar').value"), "demo")
        self.assertEqual(b.js("return document.getElementById('output').value"), "webrtc")
        self.assertEqual(b.js("return [...document.getElementById('style').options].map(o => o.value)"), ["", "calm", "lively"])
        b.js(MOUTH_MONITOR, list(MOUTH))

        b.driver.find_element("id", "start").click()          # the fake microphone starts its file now
        started = time.monotonic()
        self.wait("return window.avatard.sessionId", 10, "session.ready")
        self.wait("return window.mouth.length > 10", 10, "video frames through WHEP")
        size = b.js("const v = document.getElementById('video'); return [v.videoWidth, v.videoHeight]")
        self.assertEqual(size, [256, 256], "the video plays at the avatar's size")

        speech_start, speech_end = self.spans[0]
        time.sleep(max(0.0, started + (speech_start + speech_end) / 2 + 0.35 - time.monotonic()))
        # The screenshot in the docs is refreshed on request; every run keeps its own under .build/.
        shots = webtest.REPO / (".build/web-test-screenshots" if os.environ.get("AVATARD_UPDATE_DOCS_IMAGES") != "1"
                                else "docs/images")
        shots.mkdir(parents=True, exist_ok=True)
        b.driver.save_screenshot(str(shots / "browser-page.png"))
        time.sleep(max(0.0, started + speech_end + 2.5 - time.monotonic()))

        mouth = b.js("return window.mouth")
        onsets = b.js("return window.avatard.onsets")
        self.assertGreaterEqual(len(onsets), 1, "the speech entered the page")
        self.assertLessEqual(len(onsets), 3, "one sentence (its pauses may count as new onsets)")
        onset = onsets[0]
        speaking = [m["dark"] for m in mouth if onset + 200 <= m["t"] <= onset + (speech_end - speech_start) * 1000 + 400]
        resting = [m["dark"] for m in mouth if m["t"] >= onset + (speech_end - speech_start) * 1000 + 1200]
        self.assertGreater(len(speaking), 20)
        self.assertGreater(len(resting), 10)
        self.assertGreater(max(speaking), 0.05, "the mouth opens while the speech plays")
        self.assertGreater(sum(d > OPEN for d in speaking), len(speaking) // 4, "the mouth keeps moving during the speech")
        self.assertLess(max(resting), OPEN, "the mouth rests (closed) after the speech")
        latencies = mouth_latencies(onsets, mouth)
        self.assertGreaterEqual(len(latencies), 1)
        self.assertLess(latencies[0], 1500)
        print(f"\n  audio entering the page → open mouth at the viewer: {latencies[0]:.0f} ms")

        stats = b.js("return window.avatard.stats")
        self.assertIsNotNone(stats, "stats reached the page")
        # Frames repeated for lateness come from CPU load (the browser, its decoder and the daemon share 2 cores in
        # CI); they stay rare.
        self.assertLessEqual(stats["frames_dropped"], max(2, stats["frames_rendered"] // 20))
        self.assertGreater(stats["latency_ms_p95"], 0)
        self.assertIn("/", b.js("return document.getElementById('s-latency').textContent"))

        # A speech file instead of the microphone.
        b.driver.find_element("id", "file").send_keys(str(self.file_wav))
        before = len(b.js("return window.mouth"))
        b.driver.find_element("id", "play-file").click()
        self.wait("return document.getElementById('log').textContent.includes('playing file.wav')", 5, "file playback")
        time.sleep(2.0)
        played = [m["dark"] for m in b.js("return window.mouth")[before:]]
        self.assertGreater(max(played), 0.05, "the mouth moves with the file's speech")

        # Barge-in during a second playback: answered by input.interrupted.
        b.driver.find_element("id", "play-file").click()
        time.sleep(0.6)
        b.driver.find_element("id", "interrupt").click()
        self.wait("return document.getElementById('log').textContent.includes('interrupted:')", 5, "input.interrupted")

        b.driver.find_element("id", "stop").click()
        ended = self.wait("return window.avatard.ended", 15, "session.ended")
        self.assertLessEqual(ended["frames_dropped"], max(2, ended["frames"] // 20))
        self.wait("return document.getElementById('start').disabled === false", 5, "page reset after the session")
        self.assertIsNone(b.js("return window.avatard.error"))


if __name__ == "__main__":
    unittest.main()
