"""``python -m tests.site``: serve a generated site until SIGINT/SIGTERM.

The first stdout line is the base URL (flushed), so a parent process can read it and start crawling.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from tests.site.model import SiteModel
from tests.site.server import ReplaySite


def parse_boards(value: str) -> dict[str, int]:
    """``"600519:200,usBABA:120"`` -> ``{"600519": 200, "usBABA": 120}``; a bare code gets 100 posts.
    Raises ``argparse.ArgumentTypeError`` on a malformed count."""
    boards: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        code, _, n = part.partition(":")
        try:
            boards[code] = int(n) if n else 100
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad board spec {part!r} (want CODE:COUNT)") from None
    return boards


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.site", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port (default)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--boards", type=parse_boards, default=None,
                        help="CODE:COUNT,... (default 600519:200,usBABA:120,hk09988:100)")
    parser.add_argument("--hostile", action="store_true", help="put script/iframe/onerror snippets in bodies")
    args = parser.parse_args(argv)

    model = SiteModel.generate(args.seed, args.boards, hostile_bodies=args.hostile)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    site = ReplaySite(model, host=args.host, port=args.port).start()
    print(site.base_url, flush=True)
    print(f"boards: {', '.join(f'{c} ({len(model.board_post_ids(c))} posts)' for c in model.boards)}",
          file=sys.stderr, flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
