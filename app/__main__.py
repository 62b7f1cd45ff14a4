"""`python -m app` and `paramlab`: start the server and print its address.

`paramlab --classroom` listens on the machine's network addresses (IPv4, and
IPv6 where the machine has it) instead of loopback only, and prints the URL
students open with a QR code of it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import socket
import sys

import uvicorn
from pydantic import ValidationError

from app.protocol import MAX_MESSAGE_BYTES
from app.server import reach
from app.server.main import create_app
from app.server.slow_clients import protocol_with_timeout
from app.settings import Settings


def listening_sockets(port: int) -> list[socket.socket]:
    """Sockets on every IPv4 address and, if the machine has IPv6, every IPv6 address (apart:
    IPV6_V6ONLY, so both work the same on every system). Exits with a message if IPv4 fails."""
    sockets = []
    for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            if family == socket.AF_INET:
                sys.exit(f"paramlab: cannot listen on port {port} of this computer's network addresses: {exc}")
            print(f"(IPv6 is not available here, IPv4 only: {exc})", flush=True)
            continue
        sockets.append(sock)
    return sockets


def terminal_qr(text: str) -> str:
    """A QR code of `text` in text: two modules a character (half blocks), light on a dark terminal."""
    import qrcode

    qr = qrcode.QRCode(border=2)
    qr.add_data(text)
    qr.make(fit=True)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()


def print_student_url(settings: Settings, port: int) -> None:
    """The URL students open and its QR code, or why there is none."""
    urls = reach.student_urls(settings, reach.address_lister(settings)(), port)
    if not urls:
        print(reach.ADVICE_NO_NETWORK, flush=True)
        return
    print(f"Students open: {urls[0]}/", flush=True)
    if len(urls) > 1:
        print("(or: " + ", ".join(f"{u}/" for u in urls[1:]) + ")")
    qr = terminal_qr(f"{urls[0]}/")
    try:
        qr.encode(sys.stdout.encoding or "ascii")
        print(qr, end="")
    except UnicodeEncodeError:
        print("(a QR code needs a terminal that shows Unicode: the room card on your page has one)")
    print("and type the room code your page shows (Classroom, then Open a room).", flush=True)


def main(argv: list[str] | None = None) -> None:
    try:
        settings = Settings()
    except ValidationError as exc:
        sys.exit("paramlab: " + "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()))
    parser = argparse.ArgumentParser(prog="paramlab", description="A live laboratory for neural network parameters.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--host", default=settings.host, help=f"address to listen on (default {settings.host})")
    where.add_argument("--classroom", action="store_true",
                       help="listen on this computer's network addresses, so students' devices can open the page; "
                            "prints the URL they open and its QR code")
    parser.add_argument("--port", type=int, default=settings.port, help=f"port (default {settings.port})")
    args = parser.parse_args(argv)
    sockets = None
    if args.classroom:
        sockets = listening_sockets(args.port)
        # "::" stands for every address of both families, "0.0.0.0" for IPv4's alone.
        host = "::" if len(sockets) == 2 else "0.0.0.0"
    else:
        host = args.host
    settings = settings.model_copy(update={"host": host, "port": args.port})
    # The app is built here, not by uvicorn from a factory name: it needs the address it
    # listens on (which Host names it answers to) as given on the command line.
    app = create_app(settings)
    if args.classroom:
        print(f"Paramlab classroom mode, port {args.port}. Your page: http://127.0.0.1:{args.port}/", flush=True)
        print_student_url(settings, args.port)
    else:
        print(f"Paramlab running at http://{args.host}:{args.port}/", flush=True)
        if settings.public_url:
            print(f"Students open: {settings.public_url}/", flush=True)
    config = uvicorn.Config(app, host=host, port=args.port,
                            # Frames above the protocol's limit are cut off by the transport; smaller
                            # oversize ones reach the handler and get a clear error.
                            ws_max_size=MAX_MESSAGE_BYTES * 16, ws_per_message_deflate=settings.ws_compression,
                            log_level="warning",
                            http=protocol_with_timeout(settings.http_timeout_seconds))
    server = uvicorn.Server(config)
    # As uvicorn.run does, with the classroom's own sockets when there are some.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=sockets)
    if not server.started:
        sys.exit(3)  # uvicorn's exit status for a server that could not start


if __name__ == "__main__":
    main()
