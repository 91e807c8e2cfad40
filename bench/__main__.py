"""``python -m bench [NAME ...]``: print the machine, then one JSON line per figure (all benchmarks, or NAMEs)."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench.common import emit, machine_info


def _benchmarks() -> dict[str, Callable[[], Any]]:
    from bench import cpu, dedup, incremental, memory, throughput

    # Cheapest first; incremental last (it depends on the guba spider's watermarks).
    return {
        "cpu": cpu.run,
        "dedup_quality": dedup.run_quality,
        "dedup_scale": dedup.run_scale,
        "throughput": throughput.run,
        "memory": memory.run,
        "incremental": incremental.run,
    }


def main(argv: list[str] | None = None) -> int:
    benches = _benchmarks()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*benches, []], metavar="NAME",
                        help=f"benchmarks to run (default: all): {', '.join(benches)}")
    args = parser.parse_args(argv)
    names = args.names or list(benches)
    emit("machine", None, "", None, None, machine_info())
    failed = 0
    for name in names:
        started = time.perf_counter()
        try:
            benches[name]()
        except Exception as exc:
            failed += 1
            traceback.print_exc(file=sys.stderr)
            emit(name, None, "", None, None, {"error": f"{type(exc).__name__}: {exc}"})
        print(f"# {name}: {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
