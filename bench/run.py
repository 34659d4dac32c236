"""Run the benchmarks: every ``bench/bench_*.py`` that defines ``main()``, or those named on the command line.

    python bench/run.py            # all of them
    python bench/run.py codec      # bench/bench_codec.py only

Each benchmark prints its own figures; this runner prints a heading per benchmark and its wall time.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def discover() -> dict[str, Path]:
    """Benchmark name (``codec`` for ``bench_codec.py``) → file."""
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def load(path: Path) -> ModuleType:
    """Import one benchmark file as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (all when none are named); 2 for an unknown name."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    names = sys.argv[1:] if argv is None else argv
    found = discover()
    unknown = [n for n in names if n.removeprefix("bench_").removesuffix(".py") not in found]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(found)}", file=sys.stderr)
        return 2
    chosen = [n.removeprefix("bench_").removesuffix(".py") for n in names] or list(found)
    for name in chosen:
        module = load(found[name])
        entry: Callable[[], object] | None = getattr(module, "main", None)
        if not callable(entry):
            continue
        print(f"== {name}")
        saved, sys.argv = sys.argv, [str(found[name])]  # a benchmark reading sys.argv gets its defaults
        t0 = time.perf_counter()
        try:
            entry()
        finally:
            sys.argv = saved
        print(f"   ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
