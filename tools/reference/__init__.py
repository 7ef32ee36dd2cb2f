"""PyTorch reference of avatard's audio-to-motion stage (HuBERT / log-mel front-ends, ICS-A2M, samplers).

Written from the facts in shared/specs/mimictalk-inference.md; runs with Debian's /usr/bin/python3 (torch, numpy).
The functional forwards (hubert.py, a2m.py, logmel.py) read bundle tensors by their clean names, exactly what the
Swift/Vulkan port loads; the module trees (hubert_modules.py, a2m_modules.py) reproduce the official key layouts
and serve as independent checks and as the source of synthetic checkpoints.
"""
