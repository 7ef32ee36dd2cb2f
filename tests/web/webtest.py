"""Support for the web tests: the daemon from the Python client's test harness, speech files for Chromium's fake
microphone, and a headless Chromium driven through WebDriver (Debian's chromium + chromium-driver)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import unittest
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "clients/python/tests"))
import harness  # noqa: E402  (the daemon under test, espeak-ng speech)

TOKEN = harness.TOKEN
MOUTH = (135, 175, 100, 160)   # rows, columns of the demo head's mouth at 256 × 256 (clients/python/benchmarks)

# Injected into the page: for every frame the <video> presents, the fraction of dark pixels (an open mouth) in the
# demo head's mouth box, with the time the frame arrived (receiveTime for WebRTC frames) on the page's clock.
MOUTH_MONITOR = """
const [r0, r1, c0, c1] = arguments[0];
const video = document.getElementById('video');
const canvas = document.createElement('canvas');
canvas.width = 256; canvas.height = 256;
const g = canvas.getContext('2d', { willReadFrequently: true });
window.mouth = [];
const onFrame = (now, meta) => {
  if (video.videoWidth === 256 && video.videoHeight === 256) {
    g.drawImage(video, 0, 0);
    const px = g.getImageData(c0, r0, c1 - c0, r1 - r0).data;
    let dark = 0;
    for (let i = 0; i < px.length; i += 4) {
      const y = 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
      if (y < 60) dark++;
    }
    window.mouth.push({ t: meta.receiveTime || now, shown: now, dark: dark / (px.length / 4) });
  }
  video.requestVideoFrameCallback(onFrame);
};
video.requestVideoFrameCallback(onFrame);
"""


def chromium_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (os.access(chromium, os.X_OK) and os.access(driver, os.X_OK)):
        message = "Debian's chromium and chromium-driver are needed (scripts/setup.sh deps installs them)"
        if os.environ.get("AVATARD_REQUIRE_BROWSER") == "1":
            raise RuntimeError(message)
        raise unittest.SkipTest(message)
    return chromium, driver


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())


def to_48k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Linear-interpolation resampling (good enough for speech that only has to move a mouth)."""
    n = int(len(samples) * 48000 / rate)
    return np.interp(np.arange(n) * rate / 48000, np.arange(len(samples)), samples.astype(np.float64))


def utterances(words: list[str], *, lead: float, gap: float) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """espeak-ng speech of each entry at 48 kHz, `lead` seconds of silence first and `gap` between: the samples
    and the (start, end) seconds of each utterance's voice."""
    parts = [np.zeros(int(lead * 48000))]
    spans = []
    position = lead
    for text in words:
        pcm, rate = harness.speech(text)
        voice = to_48k(pcm, rate)
        loud = np.flatnonzero(np.abs(voice) > 0.03 * 32768)
        start = position + (loud[0] / 48000 if len(loud) else 0)
        end = position + (loud[-1] / 48000 if len(loud) else len(voice) / 48000)
        spans.append((start, end))
        parts += [voice, np.zeros(int(gap * 48000))]
        position += len(voice) / 48000 + gap
    return np.concatenate(parts), spans


class Browser:
    """Headless Chromium with a fake microphone that plays `audio_file` once from the moment capture starts."""

    def __init__(self, audio_file: Path):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        chromium, driver = chromium_paths()
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        self.profile = tempfile.mkdtemp(prefix="avatard-chromium-")
        for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-audio-capture={audio_file}%noloop",
                    "--autoplay-policy=no-user-gesture-required", "--window-size=1000,760",
                    f"--user-data-dir={self.profile}", "--no-first-run", "--mute-audio"]:
            options.add_argument(arg)
        self.driver = webdriver.Chrome(service=Service(executable_path=driver), options=options)
        self.driver.set_script_timeout(30)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)
