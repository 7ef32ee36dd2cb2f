"""avatard's Python tools, importable as a package from the repository root (`python3 -m tools.convert ...`)."""
