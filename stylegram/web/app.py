"""The Starlette app: the routes, with the guard (web/guard.py) in front of them and the job
queue (web/queue.py) behind them, and a lifespan that starts and stops the queue's worker
process. See docs/web.md for the API and the security model."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Iterable
from contextlib import asynccontextmanager
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..files import read_own
from ..settings import changed_fields, field_types
from ..transfer.config import PRESETS, StyleConfig, check_styles
from ..transfer.provenance import png_metadata
from .atlases import Atlases
from .config import ServeConfig
from .events import stream
from .explorer import Explorer
from .guard import COOKIE, Guard, error
from .queue import BROKEN, JobQueue, public
from .store import INPUT_FILE, SEGMENTATIONS, with_inputs
from .uploads import SERVER_ONLY, UploadError, decode_image, parse_config, read_job

STATIC = Path(__file__).parent / "static"


class Studio:
    """The state behind the routes: the job store, the event hub, the worker and the explorer."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.data = Path(config.data_dir)
        self.queue = JobQueue(self.data, interval=config.preview_interval)
        self.store, self.hub, self.worker = self.queue.store, self.queue.hub, self.queue.worker
        self.explorer = Explorer(config.images, self.data / "units-cache")
        self.atlases = Atlases(config.atlas)

    def start(self) -> None:
        self.queue.start()

    async def stop(self) -> None:
        await self.queue.stop()

    # ------------------------------------------------------------ routes

    def _job(self, request: Request) -> dict[str, Any]:
        job = self.store.get(request.path_params["id"])
        if job is None:
            raise HTTPException(404, f"no job '{request.path_params['id'][:40]}'")
        return job

    async def index(self, request: Request) -> Response:
        token = request.query_params.get("token")
        if token is not None and self.config.token is not None:
            if not hmac.compare_digest(token.encode(), self.config.token.encode()):
                return error(401, "wrong token")
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
            return response
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    async def settings(self, request: Request) -> Response:
        """The StyleConfig fields the page shows: defaults, limits, choices and help, as the CLI has them."""
        out = []
        types = field_types(StyleConfig)
        for f in fields(StyleConfig):
            if f.name in SERVER_ONLY:
                continue
            hint, optional = types[f.name]
            default = None if f.default is MISSING else f.default
            out.append(
                {
                    "name": f.name,
                    "default": list(default) if isinstance(default, tuple) else default,
                    "help": f.metadata.get("help", ""),
                    "min": f.metadata.get("min"),
                    "max": f.metadata.get("max"),
                    "positive": f.metadata.get("positive"),
                    "optional": optional,
                    "type": getattr(hint, "__name__", str(hint)),
                    "choices": list(getattr(hint, "__args__", ()))
                    if "Literal" in str(hint)
                    else None,
                }
            )
        limits = {
            "max_upload_mb": self.config.max_upload_mb,
            "max_megapixels": self.config.max_megapixels,
            "max_size": self.config.max_size,
        }
        return JSONResponse(
            {
                "fields": out,
                "limits": limits,
                "presets": {k: list(p.iterations) for k, p in PRESETS.items()},
            }
        )

    async def create_job(self, request: Request) -> Response:
        if self.worker.broken:
            return error(503, BROKEN)
        try:
            job_input = await read_job(request, self.config)
        except UploadError as exc:
            return error(exc.status, str(exc))
        names = job_input.names
        sent = SEGMENTATIONS if job_input.segmentations else ()
        command = job_command(job_input.config, names, len(job_input.masks or ()), sent)
        job = await run_in_threadpool(
            self.store.create,
            job_input.content,
            job_input.styles,
            job_input.masks,
            job_input.segmentations,
            changed_fields(job_input.config),
            names,
            command,
        )
        self.queue.dispatch()
        now = self.store.get(job["id"]) or job  # or deleted already (cancelled, then deleted)
        return JSONResponse(
            {"id": job["id"], "state": now["state"]},
            status_code=201,
            headers={"location": f"/api/jobs/{job['id']}"},
        )

    async def command(self, request: Request) -> Response:
        """The command a job of these settings and pictures would be, before it is one: the page's
        *Copy as command*, and its check of the settings as they are typed. JSON in:
        ``{"config": {...}, "content": name, "styles": [names], "masks": bool,
        "segmentations": [the fields of those chosen: content_seg, style_seg]}``; out:
        ``{"command": ...}``, or ``{"refused": reason}`` (200: the check's answer, in the words
        a job with these settings would be refused with)."""
        body = await request.body()
        if len(body) > 65_536:
            return error(413, "a command request is at most 64 KB")
        try:
            given = json.loads(body)
            content, styles = str(given["content"]), [str(s) for s in given["styles"]]
            masks = bool(given.get("masks"))
            segmentations = [str(f) for f in given.get("segmentations") or ()]
            if not set(segmentations) <= set(SEGMENTATIONS):
                raise ValueError
            config_text = json.dumps(given.get("config") or {})
        except (ValueError, KeyError, TypeError, RecursionError):  # nested too deep: no JSON here
            return error(400, "send JSON: config, content, styles, masks and segmentations")
        if not styles:
            return error(400, "add a painting first")
        try:
            config = parse_config(config_text, len(styles), self.config)
            command = job_command(
                config,
                {"content": content, "styles": styles},
                len(styles) if masks else 0,
                segmentations,
            )
        except UploadError as exc:
            return JSONResponse({"refused": str(exc)})
        return JSONResponse({"command": command})

    async def list_jobs(self, request: Request) -> Response:
        return JSONResponse({"jobs": [public(j) for j in self.store.list()]})

    async def get_job(self, request: Request) -> Response:
        return JSONResponse(public(self._job(request)))

    async def events(self, request: Request) -> Response:
        job = self._job(request)

        def snapshot() -> dict:
            return public(self.store.get(job["id"]) or {**job, "state": "cancelled"})

        return StreamingResponse(
            stream(self.hub, job["id"], snapshot),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    async def image(self, request: Request) -> Response:
        job = self._job(request)
        folder = self.store.dir(job["id"])
        path = folder / ("result.png" if job["state"] == "done" else "current.png")
        try:
            data = read_own(path)  # never blocks: a pipe put there is no image
        except OSError:
            return error(404, f"job {job['id']} has no image yet ({job['state']})")
        headers = {"cache-control": "no-store"}
        if request.query_params.get("download"):
            headers["content-disposition"] = f'attachment; filename="stylegram-{job["id"]}.png"'
        return Response(data, media_type="image/png", headers=headers)

    async def input_file(self, request: Request) -> Response:
        job = self._job(request)
        name = request.path_params["name"]
        try:
            data = read_own(self.store.dir(job["id"]) / name) if INPUT_FILE.match(name) else None
        except OSError:
            data = None
        if data is None:
            return error(404, f"job {job['id']} has no file '{name[:40]}'")
        return Response(data, media_type="image/png")

    async def delete_job(self, request: Request) -> Response:
        job = self._job(request)
        if job["state"] == "queued":
            job = self.store.update(job["id"], state="cancelled", finished=time.time())
            self.hub.publish(
                job["id"],
                {"type": "cancelled", "id": job["id"], "state": "cancelled", "job": public(job)},
            )
            return JSONResponse({"id": job["id"], "state": "cancelled"})
        if job["state"] == "running":
            self.worker.cancel(job["seq"])
            return JSONResponse(
                {"id": job["id"], "state": "running", "cancelling": True}, status_code=202
            )
        await run_in_threadpool(self.store.delete, job["id"])
        self.hub.forget(job["id"])
        return JSONResponse({"id": job["id"], "deleted": True})

    # ------------------------------------------------------------ the unit explorer

    async def unit_layers(self, request: Request) -> Response:
        return JSONResponse(self.explorer.layers())

    async def unit_top(self, request: Request) -> Response:
        p = request.path_params
        try:
            k = int(request.query_params.get("k", "8"))
            data = await run_in_threadpool(
                self.explorer.top, p["layer"], p["unit"], max(1, min(k, 32))
            )
        except ValueError as exc:
            return error(400, str(exc))
        return Response(data, media_type="image/png")

    async def _image_form(self, request: Request):
        try:
            form = await request.form(max_files=1, max_fields=4, max_part_size=10_000)
        except Exception as exc:
            raise UploadError(
                400, f"the form cannot be read ({getattr(exc, 'message', exc)})"
            ) from None
        part = form.get("image")
        if part is None or isinstance(part, str):
            raise UploadError(400, "image (a file) is missing")
        name = part.filename or "image"
        return decode_image(await part.read(), name, self.config), name, form

    async def unit_activation(self, request: Request) -> Response:
        try:
            im, name, form = await self._image_form(request)
            data = await run_in_threadpool(
                self.explorer.activation,
                im,
                str(form.get("layer")),
                int(form.get("unit") or -1),
                name,
            )
        except ValueError as exc:  # UploadError is one
            return error(getattr(exc, "status", 400), str(exc))
        return Response(data, media_type="image/png")

    async def atlas_list(self, request: Request) -> Response:
        return JSONResponse({"atlases": self.atlases.listing()})

    async def atlas_unit(self, request: Request) -> Response:
        p = request.path_params
        try:
            return JSONResponse(self.atlases.unit(p["id"], p["layer"], p["unit"]))
        except ValueError as exc:
            return error(404, str(exc))

    async def unit_explain(self, request: Request) -> Response:
        try:
            im, name, form = await self._image_form(request)
            return JSONResponse(
                await run_in_threadpool(self.explorer.explain, im, str(form.get("layer")), name)
            )
        except ValueError as exc:
            return error(getattr(exc, "status", 400), str(exc))


def job_command(
    config: StyleConfig, names: dict[str, Any], masks: int, segmentations: Iterable[str]
) -> str:
    """The `stylegram stylize` line a job is, with its `masks` and segmentations named as the
    files that download beside it (store.with_inputs): the studio's one way to write it, before
    and after Start. UploadError (400) for settings that cannot go with those files."""
    try:
        config = with_inputs(config, masks, segmentations)
        check_styles(config, len(names["styles"]))
    except ValueError as exc:
        raise UploadError(400, str(exc)) from None
    return png_metadata(config, names["content"], names["styles"], "stylized.png")[
        "stylegram:command"
    ]


async def http_error(request: Request, exc: HTTPException) -> Response:
    return error(exc.status_code, exc.detail if isinstance(exc.detail, str) else "error")


def create_app(config: ServeConfig) -> Starlette:
    """The studio's ASGI app; the lifespan starts the worker process and stops it."""
    studio = Studio(config)

    @asynccontextmanager
    async def lifespan(app):
        studio.start()
        try:
            yield
        finally:
            await studio.stop()

    job = "/api/jobs/{id:str}"
    routes = [
        Route("/", studio.index),
        Route("/api/settings", studio.settings),
        Route("/api/jobs", studio.create_job, methods=["POST"]),
        Route("/api/jobs", studio.list_jobs, methods=["GET"]),
        Route("/api/command", studio.command, methods=["POST"]),
        Route(job, studio.get_job, methods=["GET"]),
        Route(job, studio.delete_job, methods=["DELETE"]),
        Route(job + "/events", studio.events),
        Route(job + "/image", studio.image),
        Route(job + "/files/{name:str}", studio.input_file),
        Route("/api/units", studio.unit_layers),
        Route("/api/units/{layer:str}/{unit:int}/top.png", studio.unit_top),
        Route("/api/units/activation", studio.unit_activation, methods=["POST"]),
        Route("/api/units/explain", studio.unit_explain, methods=["POST"]),
        Route("/api/atlases", studio.atlas_list),
        Route("/api/atlases/{id:int}/{layer:str}/{unit:int}", studio.atlas_unit),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        # Each atlas folder as it is on disk: its pages link to its PNGs by relative paths.
        *(
            Mount(Atlases.url(i, "").rstrip("/"), StaticFiles(directory=folder))
            for i, folder in enumerate(studio.atlases.folders)
        ),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        # Starlette types every handler as taking any Exception; a dict cannot tie the key's
        # class to the handler's argument (Kludex/starlette#1142, #2403).
        exception_handlers={HTTPException: http_error},  # type: ignore[dict-item]
        middleware=[Middleware(Guard, token=config.token)],
    )
    app.state.studio = studio
    return app
