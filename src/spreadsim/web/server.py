"""``spreadsim app``: the what-if page served on this machine (Starlette, run by uvicorn).

Routes: ``/`` the page, ``/static/*`` its scripts and style sheet (package data: nothing is
fetched from another host), ``GET /api/controls`` the controls generated from the schema with the
page's initial settings, ``POST /api/evaluate`` everything the page shows for a setting (JSON:
``{"tab": ..., "seq": ..., "settings": {...}}``). Every request carries the full settings; the
server keeps no state of a page, only caches keyed by world and seed (the traces) and by the whole
config (finished points). Computations run in one worker thread (:mod:`spreadsim.web.worker`).

Bad input never ends the server: a body that is not JSON, a value of the wrong type or out of
range, a world too large for the page each get a 4xx answer with one line (the schema's message
for a setting, and the control it belongs to); an unexpected failure gets a 500 with one line.
Requests must name this machine as their host (DNS rebinding) and post JSON (another site's
page cannot post to it without the browser asking first, and the server never allows it). The
API answers only requests that carry the session's token (printed with the address, as
``?token=...``; the page sends it as the ``X-Spreadsim-Token`` header): another user of this
machine, or another program, gets 403. Edge lists are read only from the data folder fixed at
start (``--data-dir``), and no error message shows a line of a file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import logging
import secrets
import signal
import socket
import sys
import threading
import webbrowser
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spreadsim.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, ConfigError, DataError
from spreadsim.version import __version__
from spreadsim.web.compute import Evaluator, data_error_payload, error_payload, one_line
from spreadsim.web.controls import controls, default_settings, read_yaml
from spreadsim.web.export import STATIC, parse_grid, write_export
from spreadsim.web.worker import SUPERSEDED, Worker

__all__ = ["create_app", "make_server", "main", "parse_settings", "MAX_BODY_BYTES", "MAX_SEQ",
           "TOKEN_HEADER"]

log = logging.getLogger(__name__)

#: the largest request body read (the settings are a few kB)
MAX_BODY_BYTES = 256 * 1024
#: the largest request number (the largest integer a browser's number holds exactly)
MAX_SEQ = 2**53 - 1
#: the request header that carries the session's token
TOKEN_HEADER = "x-spreadsim-token"
#: every response forbids loading anything from another host
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
#: a tiny world that compiles the engine when the server starts
WARM_UP = {"graph.n": 200, "graph.m": 2, "scenario.illegal_posts": 4, "scenario.legal_posts": 2,
           "scenario.uploaders": 2, "seeds": 2, "notice_and_takedown.on": True}


class _Headers:
    """Adds the content security policy and ``nosniff`` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def add(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"content-security-policy", CSP.encode()),
                                      (b"x-content-type-options", b"nosniff"),
                                      (b"cache-control", b"no-store")]
            await send(message)

        await self.app(scope, receive, add)


class _TooBig(Exception):
    pass


async def _body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooBig
        chunks.append(chunk)
    return b"".join(chunks)


def _bad(message: str, status: int = 400, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def create_app(*, initial: dict[str, Any] | None = None, evaluator: Evaluator | None = None,
               allowed_hosts: Sequence[str] = ("127.0.0.1", "localhost", "::1"),
               warm_up: bool = True, token: str | None = None) -> Starlette:
    """The page's Starlette app.

    Parameters
    ----------
    initial : dict, optional
        The settings a fresh page starts from (the schema's defaults where left out).
    evaluator : Evaluator, optional
        Runs the points (a new one in a temporary folder if omitted, closed with the app).
    allowed_hosts : sequence of str
        The host names requests may name (this machine's).
    warm_up : bool
        Compile the engine on a tiny world when the app starts.
    token : str, optional
        The session's token every API request must carry (header ``X-Spreadsim-Token``); a new
        random one if omitted. The app keeps it as ``app.state.token``.
    """
    ev = evaluator if evaluator is not None else Evaluator()
    secret = token if token is not None else secrets.token_urlsafe(24)
    worker = Worker()
    start = {**default_settings(), **(initial or {})}

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    def refused(request: Request) -> Response | None:
        """403 unless the request carries the session's token."""
        sent = request.headers.get(TOKEN_HEADER, "")
        if hmac.compare_digest(sent.encode(), secret.encode()):
            return None
        return _bad("missing or wrong session token: open the address spreadsim app printed "
                    "(http://127.0.0.1:PORT/?token=...)", 403)

    async def api_controls(request: Request) -> Response:
        if (no := refused(request)) is not None:
            return no
        return JSONResponse({"controls": controls(), "initial": start, "version": __version__,
                             "limits": ev.limits.__dict__})

    async def api_evaluate(request: Request) -> Response:
        if (no := refused(request)) is not None:
            return no
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return _bad(f"content type {kind or 'none'!r}: post JSON (application/json)", 415)
        try:
            data = json.loads(await _body(request))
        except _TooBig:
            return _bad(f"request body larger than {MAX_BODY_BYTES} bytes", 413)
        except (ValueError, RecursionError) as e:
            return _bad(f"request body is not JSON: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
        if not isinstance(data, dict):
            return _bad("request body must be a JSON object {tab, seq, settings}")
        tab, seq, settings = data.get("tab"), data.get("seq", 0), data.get("settings", {})
        if tab is not None and (not isinstance(tab, str) or len(tab) > 100):
            return _bad("tab must be a string of at most 100 characters")
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
            return _bad(f"seq must be an integer >= 0 and <= {MAX_SEQ}")
        try:
            result = await asyncio.wrap_future(worker.submit(tab, seq, ev.evaluate, settings))
        except ConfigError as e:
            return JSONResponse({**error_payload(e, settings), "seq": seq}, status_code=400)
        except DataError as e:
            return JSONResponse({**data_error_payload(e), "seq": seq}, status_code=400)
        except Exception as e:  # noqa: BLE001 - one line for the page; the server carries on
            log.exception("evaluate failed")
            return _bad(one_line(f"the computation failed: {type(e).__name__}: {e}"), 500, seq=seq)
        if result is SUPERSEDED:
            return JSONResponse({"superseded": True, "seq": seq}, status_code=409)
        return JSONResponse({**result, "seq": seq})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if warm_up:
            worker.submit(None, 0, _warm_up, ev)
        yield
        worker.close()
        if evaluator is None:
            ev.close()

    app = Starlette(
        routes=[Route("/", page), Route("/api/controls", api_controls),
                Route("/api/evaluate", api_evaluate, methods=["POST"]),
                Mount("/static", app=StaticFiles(directory=STATIC), name="static")],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)),
                    Middleware(_Headers)],
        exception_handlers={Exception: _failed},
        lifespan=lifespan)
    app.state.token = secret
    return app


async def _failed(request: Request, exc: Exception) -> Response:
    """Any exception a route did not turn into an answer: a 500 with one line (the server
    carries on)."""
    return _bad(one_line(f"the server failed: {type(exc).__name__}: {exc}"), 500)


def _warm_up(ev: Evaluator) -> None:
    try:
        ev.evaluate({**default_settings(), **WARM_UP}, downloads=False)
    except Exception:  # noqa: BLE001 - a failed warm-up only costs the first request its time
        log.exception("warm-up failed")


def parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (values read as YAML: ``6``, ``inf``, ``true``) as page settings.

    Raises
    ------
    ConfigError
        A pair without ``=`` or a value that is not plain YAML
        (:func:`~spreadsim.web.controls.read_yaml`).
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, eq, text = pair.partition("=")
        if not eq or not key:
            raise ConfigError("--set", pair, "must be KEY=VALUE, e.g. fixed_latency.latency_h=6")
        value = read_yaml(key, text)  # (as the page reads its YAML controls: no aliases)
        out[key] = text if isinstance(value, str) else value
    return out


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line errors (``spreadsim: error: ...``, exit status 2)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"spreadsim: error: app: {message} (spreadsim app --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0 to 65535; 0: a free one)")
    return port


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="spreadsim app",
        description="The what-if page: moderation levers in the browser, served on this machine. "
                    "With --export, a self-contained HTML file with a precomputed grid instead.")
    p.add_argument("--port", type=_port, default=0, help="port (default: a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--data-dir", default=".", metavar="DIR",
                   help="the only folder the page reads edge lists from (default: the current one)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="start from this setting (repeatable), e.g. --set graph.n=2000")
    p.add_argument("--export", metavar="FILE.html", help="write a self-contained page and exit")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="a lever of the export's grid (repeatable, 1 to 3; default: "
                        "fixed_latency.latency_h x fixed_latency.removal_prob)")
    return p


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    return sock


def make_server(app: Starlette) -> uvicorn.Server:
    """A uvicorn server for ``app``; run it on a bound socket with ``server.run(sockets=[sock])``."""
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                         timeout_graceful_shutdown=2))


def main(argv: Sequence[str] | None = None) -> int:
    """``spreadsim app [--port N] [--host H] [--no-browser] [--set K=V ...]
    [--export FILE.html [--grid K=V1,V2 ...]]``; returns the exit status."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        initial = parse_settings(args.set)
        grid = parse_grid(args.grid) if args.export else None
    except ConfigError as e:
        sys.stderr.write(f"spreadsim: error: {e}\n")
        return EXIT_BAD_INPUT
    data_dir = Path(args.data_dir)
    if not data_dir.is_dir():
        sys.stderr.write(f"spreadsim: error: --data-dir = {args.data_dir!r}: must be a folder\n")
        return EXIT_BAD_INPUT
    ev = Evaluator(data_dir=data_dir)
    try:
        try:
            ev.check({**default_settings(), **initial})
            if args.export:
                assert grid is not None
                n = write_export(args.export, ev, initial, grid)
                print(f"spreadsim app: wrote {args.export} ({n} grid points)")
                return 0
        except (ConfigError, DataError) as e:
            sys.stderr.write(f"spreadsim: error: {e}\n")
            return EXIT_BAD_INPUT
        except OSError as e:
            sys.stderr.write(f"spreadsim: error: cannot write {args.export}: {e.strerror or e}\n")
            return EXIT_FAILED
        try:
            sock = _listen(args.host, args.port)
        except OSError as e:
            sys.stderr.write(f"spreadsim: error: cannot listen on {args.host}:{args.port}: "
                             f"{e.strerror or e}\n")
            return EXIT_FAILED
        app = create_app(initial=initial, evaluator=ev,
                         allowed_hosts=["127.0.0.1", "localhost", "::1", args.host])
        port = sock.getsockname()[1]
        url = (f"http://{f'[{args.host}]' if ':' in args.host else args.host}:{port}/"
               f"?token={app.state.token}")
        print(f"spreadsim app: the what-if page is at {url} (Ctrl-C to stop)", flush=True)
        if not args.no_browser:
            threading.Timer(0.5, webbrowser.open, [url]).start()
        if threading.current_thread() is threading.main_thread():
            # uvicorn stops on SIGTERM, then raises it again: end with SystemExit, so that the
            # app's folder is removed, instead of the default action's immediate end
            signal.signal(signal.SIGTERM, _terminated)
        try:
            make_server(app).run(sockets=[sock])
        except KeyboardInterrupt:  # Ctrl-C: uvicorn has stopped, then raised it again
            sys.stderr.write("spreadsim app: stopped\n")
            return EXIT_INTERRUPTED
        return 0
    finally:
        ev.close()


def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)
