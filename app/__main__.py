"""`python -m app` and `paramlab`: start the server and print its address."""

from __future__ import annotations

import argparse

import uvicorn

from app.protocol import MAX_MESSAGE_BYTES
from app.server.main import create_app
from app.server.slow_clients import protocol_with_timeout
from app.settings import Settings


def main(argv: list[str] | None = None) -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(prog="paramlab", description="A live laboratory for neural network parameters.")
    parser.add_argument("--host", default=settings.host, help=f"address to listen on (default {settings.host})")
    parser.add_argument("--port", type=int, default=settings.port, help=f"port (default {settings.port})")
    args = parser.parse_args(argv)
    settings = settings.model_copy(update={"host": args.host, "port": args.port})
    print(f"Paramlab running at http://{args.host}:{args.port}/", flush=True)
    # The app is built here, not by uvicorn from a factory name: it needs the address it
    # listens on (which Host names it answers to) as given on the command line.
    uvicorn.run(create_app(settings), host=args.host, port=args.port,
                # Frames above the protocol's limit are cut off by the transport; smaller
                # oversize ones reach the handler and get a clear error.
                ws_max_size=MAX_MESSAGE_BYTES * 16, log_level="warning",
                http=protocol_with_timeout(settings.http_timeout_seconds))


if __name__ == "__main__":
    main()
