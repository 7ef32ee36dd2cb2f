"""MimicTalk's offline motion for one utterance, computed as upstream's inference does (the yardstick of
`avatard render --window full`; docs/motion.md §2.4):

1. HuBERT in utterance mode (`hubert.utterance_features`): the whole utterance normalised once, non-overlapping
   chunks of `chunk_frames` rows (1000 upstream), (N − (R − S)) // S rows kept;
2. zero rows appended up to a multiple of 8 (`get_hubert`), t_x rows; the motion length is T = t_x / 2;
3. one flow-matching sample over all T frames (the zero-padded rows included), prompted by the style clip;
4. the last 4 frames dropped (`forward_audio2secc`: `exp[:-4]` after sampling; the video, and with
   `-shortest` the muxed audio, are T − 4 frames long).

The style clip goes through steps 1–2 as well; upstream then cuts motion and rows to a common length
(`extract_audio_motion_from_ref_video`: min(frames, rows // 2)).
"""
from dataclasses import dataclass

import torch

from tools.reference.a2m import Style, sample
from tools.reference.hubert import pad_rows, utterance_features

DROP_LAST_FRAMES = 4


def utterance_rows(hubert, wave, chunk_frames=1000, pad_multiple=8):
    """Steps 1–2: the t_x feature rows upstream hands to the motion model."""
    return pad_rows(utterance_features(hubert, wave, chunk_frames), pad_multiple)


def style_prompt(hubert, motion, wave, chunk_frames=1000, pad_multiple=8):
    """A style clip as upstream prepares it: its rows (steps 1–2), motion and rows cut to a common length."""
    rows = utterance_rows(hubert, wave, chunk_frames, pad_multiple)
    frames = min(motion.shape[0], rows.shape[0] // 2)
    return Style(motion[:frames].to(hubert.dtype), rows[:2 * frames])


@dataclass
class FullWindow:
    features: torch.Tensor   # [t_x, audio_dim]: what the motion model reads
    motion: torch.Tensor     # [T, motion_dim]: the whole sample
    kept: int                # T − 4: the frames upstream keeps


def upstream_full_window(hubert, a2m, wave, *, noise, style=None, steps=20, cfg_scale=1.5, temperature=0.3,
                         chunk_frames=1000, pad_multiple=8):
    """Steps 1–4 on one utterance. `noise` [≥ T, motion_dim] holds the target rows' N(0, 1) draw (row f for
    frame f, as a seeded session draws it); prompt rows need none."""
    features = utterance_rows(hubert, wave, chunk_frames, pad_multiple)
    T = features.shape[0] // 2
    Tr = 0 if style is None else style.motion.shape[0]
    if noise.shape[0] < T:
        raise ValueError(f"noise has {noise.shape[0]} rows, the utterance needs {T}")
    y0 = torch.cat([torch.zeros(Tr, noise.shape[1], dtype=noise.dtype), noise[:T]])
    motion = sample(a2m, features, style=style, noise=y0, steps=steps, cfg_scale=cfg_scale, temperature=temperature)
    return FullWindow(features, motion, max(0, T - DROP_LAST_FRAMES))
