"""Run every benchmark module in this package (or those named on the command line)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

SKIP = {"table", "__main__"}


def main(names: list[str]) -> int:
    available = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name not in SKIP)
    unknown = set(names) - set(available)
    if unknown:
        print(f"unknown benchmarks: {', '.join(sorted(unknown))}; available: {', '.join(available)}")
        return 2
    for name in names or available:
        tables = importlib.import_module(f"bench.{name}").run()  # a Table, or a list of them
        for table in tables if isinstance(tables, list) else [tables]:
            print(table.render(), end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
