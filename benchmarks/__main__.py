"""Run every benchmark in turn: `python -m benchmarks`."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))
failed = []
for name in names:
    module = importlib.import_module(f"benchmarks.{name}")
    if not hasattr(module, "main"):
        continue
    print(f"\n######## benchmarks.{name}", flush=True)
    if subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], check=False).returncode != 0:
        failed.append(name)
if failed:
    print(f"\nfailed: {', '.join(failed)}")
sys.exit(1 if failed else 0)
