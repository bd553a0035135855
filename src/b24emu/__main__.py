"""``python -m b24emu --port 8800 --seed demo``: a standalone emulated portal on 127.0.0.1."""

from __future__ import annotations

import argparse
import sys
import threading

from b24emu.config import RateLimit
from b24emu.credentials import DEFAULT_SCOPES
from b24emu.portal import Portal
from b24emu.seed import SEEDS
from b24emu.server import EmuServer

DEAL_EVENTS = ("ONCRMDEALADD", "ONCRMDEALUPDATE", "ONCRMDEALDELETE")


def main(argv: list[str] | None = None, stop: threading.Event | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m b24emu", description=__doc__)
    parser.add_argument("--port", type=int, default=8800, help="port on 127.0.0.1 (0 = any)")
    parser.add_argument("--seed", choices=sorted(SEEDS), default="demo")
    parser.add_argument("--code", default="emuwebhookcode01", help="incoming webhook secret")
    parser.add_argument("--scopes", default=",".join(DEFAULT_SCOPES))
    parser.add_argument("--no-rate-limit", action="store_true", help="disable the leaky bucket")
    parser.add_argument("--outgoing", metavar="URL", help="send deal events to this handler")
    parser.add_argument(
        "--events", default=",".join(DEAL_EVENTS), help="events for --outgoing (comma-separated)"
    )
    args = parser.parse_args(argv)

    portal = Portal.seeded(args.seed)
    if args.no_rate_limit:
        portal.rate_limit = RateLimit(enabled=False)
    with EmuServer(portal, port=args.port) as server:
        hook = portal.add_webhook(1, tuple(s for s in args.scopes.split(",") if s), args.code)
        out = sys.stdout
        out.write(f"b24emu portal {portal.domain} (member_id {portal.member_id}) at {server.url}\n")
        out.write(f"incoming webhook: {hook}\n")
        out.write(f"OAuth token URL:  {portal.oauth_token_url}\n")
        if args.outgoing:
            events = tuple(e.strip().upper() for e in args.events.split(",") if e.strip())
            token = portal.add_outgoing_webhook(args.outgoing, events)
            out.write(f"outgoing webhook -> {args.outgoing} ({', '.join(events)})\n")
            out.write(f"application_token: {token}\n")
        out.write("Ctrl+C to stop\n")
        out.flush()
        try:
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
