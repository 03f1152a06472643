"""``python -m pygd``: the configuration and a small benchmark table.

``python -m pygd``         show_config() and a quick benchmark of the kernels
``python -m pygd bench``   the benchmark cases at full size, a ratio table and JSON
"""

from __future__ import annotations

import argparse
import sys

from . import _bench
from ._config import show_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pygd",
        description="pygd: show the build configuration and measure the kernels.",
    )
    sub = parser.add_subparsers(dest="command")
    bench = sub.add_parser("bench", help="run the benchmark cases and print ratios")
    bench.add_argument("--quick", action="store_true", help="small sizes (seconds, not minutes)")
    bench.add_argument("--json", default="pygd-bench.json", help="where to write the results")
    bench.add_argument("--repeat", type=int, default=5, help="timings per case (best is kept)")
    args = parser.parse_args(argv)

    print("pygd configuration")
    show_config(verbose=True)
    print()
    progress = lambda msg: print(f"  measuring {msg} ...", file=sys.stderr, flush=True)  # noqa: E731
    if args.command == "bench":
        _bench.run(full=not args.quick, repeat=args.repeat, json_path=args.json, progress=progress)
        print(f"\nresults written to {args.json}")
    else:
        print("quick benchmark (python -m pygd bench for full sizes)")
        _bench.run(full=False, repeat=3, progress=progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
