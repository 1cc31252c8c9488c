"""`stylegram serve`: the local web studio (Starlette + uvicorn, the `stylegram[web]` extra)."""

from __future__ import annotations

import argparse
import contextlib
import sys

from ..web.config import ServeConfig, is_loopback
from .options import add_config_options, config_from_args


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="the local web studio: live preview, painted masks, a job queue, units",
        description="Serve the stylegram studio on this machine (see docs/web.md).",
    )
    add_config_options(p, ServeConfig)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args, ServeConfig)
    try:
        import uvicorn

        from ..web.app import create_app
    except ImportError as exc:
        raise ValueError(
            f"serve needs the web extra ({exc.name} is missing): pip install 'stylegram[web]'"
        ) from None
    from pathlib import Path

    data = Path(config.data_dir)
    if data.exists() and not data.is_dir():
        raise ValueError(f"--data-dir '{data}' is a file, not a folder")
    if config.images is not None and not Path(config.images).is_dir():
        raise ValueError(f"--images '{config.images}' is not a folder")
    from ..web.atlases import check_atlas

    for folder in config.atlas:
        check_atlas(folder)
    _check_port(config.host, config.port)  # before the data folder is made: a busy port is one line
    data.mkdir(parents=True, exist_ok=True)
    if not is_loopback(config.host):
        print(
            f"stylegram: warning: listening on {config.host}: anyone who can reach this address and knows the"
            " token can run jobs and see every picture in the data dir",
            file=sys.stderr,
        )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=config.host,
            port=config.port,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
    )
    if config.open:
        _open_when_ready(server, config)
    else:
        _announce_when_ready(server, config)
    with contextlib.suppress(
        KeyboardInterrupt
    ):  # uvicorn shut down in order, then re-raised Ctrl-C or SIGTERM
        server.run()
    print(f"stylegram: studio stopped; its jobs are kept in {data}", file=sys.stderr)
    return 0


def _check_port(host: str, port: int) -> None:
    """ValueError in one line if `host:port` cannot be listened on (taken, or not this machine's)."""
    import socket

    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ValueError(f"--host '{host}': cannot be resolved ({exc.strerror or exc})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise ValueError(
                f"--port {port}: cannot listen on {host}:{port} ({exc.strerror or exc}); is another"
                " server there? choose another --port"
            ) from None


def _url(server, config: ServeConfig) -> str:
    port = server.servers[0].sockets[0].getsockname()[1] if server.servers else config.port
    host = f"[{config.host}]" if ":" in config.host else config.host
    return f"http://{host}:{port}/" + (f"?token={config.token}" if config.token else "")


def _announce_when_ready(server, config: ServeConfig, then=None) -> None:
    """Print the address once uvicorn listens (port 0 picks a free one)."""
    startup = server.startup

    async def started(sockets=None):
        await startup(sockets=sockets)
        print(f"stylegram studio on {_url(server, config)}", file=sys.stderr, flush=True)
        if then:
            then(_url(server, config))

    server.startup = started


def _open_when_ready(server, config: ServeConfig) -> None:
    import webbrowser

    _announce_when_ready(server, config, then=webbrowser.open)
