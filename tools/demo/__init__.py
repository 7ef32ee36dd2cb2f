"""The demo avatar's generators and references (run as `python3 -m tools.demo.NAME` from the repository root)."""
