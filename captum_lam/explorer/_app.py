"""The explorer's web application (Flask): the page and its JSON API.

Routes
------
``GET /``                                  the page
``GET /api/config``                        models, images, settings, limits
``GET /api/images/<id>``                   an image's size and name
``GET /api/images/<id>/picture.png``       the image
``GET /api/images/<id>/texture.png?size``  how textured each window is
``GET /api/images/<id>/windows?size``      the most textured windows
``POST /api/images``                       upload a PNG/JPEG (form field ``file``)
``POST /api/lam``                          ask for a model's LAM of a window
``GET /api/lam/<key>``                     its state, progress and numbers
``DELETE /api/lam/<key>``                  cancel it
``GET /api/lam/<key>/<panel>.png``         zoom, whole, output, hr
``GET /api/lam/<key>/figure.png``          the LAM figure
``GET /api/lam/<key>/map.npz``             the raw map

Every refused request is answered with a 4xx and ``{"error": message}``:
a ``Host`` that is not this machine's (403, see `_guard`), a POST or DELETE
from another origin or without the session's ``X-LAM-Token`` (403), a full
queue (429), a bad parameter (400, checked by the library's own checks before
any job starts).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import OrderedDict
from functools import partial
from typing import Any, Optional

from flask import Flask, Response, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException

from ..objective import DETECTORS
from ..path_integrated_gradients import METHODS
from ..windows import auto_windows
from ._catalogue import (
    SAMPLES,
    UPLOAD_MAX_BYTES,
    UPLOAD_MAX_SIDE,
    ImageEntry,
    Images,
    Models,
    RequestError,
    registry_entries,
)
from ._compute import (
    DEFAULT_SETTINGS,
    MAX_STEPS,
    WINDOW_MAX,
    WINDOW_MIN,
    LamResult,
    compute,
    parse_request,
)
from ._guard import TOKEN_HEADER, host_allowed, origin_refusal
from ._jobs import DONE, Job, JobRunner, QueueFull, cancellable_passes
from ._render import (
    colorbar_stops,
    explain_command,
    figure_png,
    image_rgb,
    map_npz,
    panels,
    png_bytes,
    texture_overlay,
)

PANELS = ("zoom", "whole", "output", "hr")
#: JSON bodies larger than this are refused (a LAM request is a few hundred bytes).
JSON_MAX_BYTES = 64 * 1024
#: Rendered panels and figures kept; pictures and overlays kept per image.
RENDERS_KEPT = 64
IMAGE_RENDERS_KEPT = 8
#: Seconds a connection may stay silent before the server closes it.
IDLE_TIMEOUT = 15.0


def create_app(
    models: Optional[Models] = None,
    images: Optional[Images] = None,
    *,
    image: Optional[str] = None,
    selected: Optional[list[str]] = None,
    host: Optional[str] = None,
    token: Optional[str] = None,
    workers: Optional[int] = None,
) -> Flask:
    """The explorer's Flask application.

    Parameters
    ----------
    models : Models, optional
        The selectable models; default: the whole registry, on the CPU.
    images : Images, optional
        The image store; default: the built-in samples only.
    image : str, optional
        Id of the image the page opens with (default ``sample:chelsea``).
    selected : list of str, optional
        Models selected when the page opens (default: the first installed one).
    host : str, optional
        The address the server is bound to (default ``127.0.0.1``): requests
        whose ``Host`` is neither it, ``localhost`` nor a loopback address are
        refused (DNS rebinding).
    token : str, optional
        The session's secret that every POST and DELETE must send in the
        ``X-LAM-Token`` header (default: a new random one, in ``/api/config``).
    workers : int, optional
        Computations at once (default: half the CPUs, 1 to 4).

    Examples
    --------
    >>> app = create_app()
    >>> app.test_client().get("/api/config").status_code
    200
    """
    models = models if models is not None else Models(registry_entries())
    images = images if images is not None else Images()
    image = image or "sample:chelsea"
    images.get(image)  # fail now, not on the page
    installed = [name for name, e in models.entries.items() if e.installed]
    selected = list(selected) if selected else installed[:1]
    for name in selected:
        models.entry(name)
    runner = JobRunner(
        partial(_compute_cancellable, models=models, images=images), workers=workers
    )
    renders: OrderedDict[tuple[str, str], bytes] = OrderedDict()
    renders_lock = threading.Lock()
    token = token or secrets.token_urlsafe(24)

    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = UPLOAD_MAX_BYTES + 64 * 1024
    app.config["LAM_TOKEN"] = token
    app.extensions["lam_runner"] = runner

    @app.before_request
    def guard() -> None:
        if not host_allowed(request.headers.get("Host"), host):
            raise RequestError(
                403,
                f"refused: Host {request.headers.get('Host')!r} is not this "
                "server's address (open the page at the address serve printed)",
            )
        refusal = origin_refusal(
            request.method,
            request.headers.get("Host"),
            request.headers.get("Origin"),
            request.headers.get("Sec-Fetch-Site"),
            request.headers.get(TOKEN_HEADER),
            token,
        )
        if refusal is not None:
            raise RequestError(403, refusal)

    @app.errorhandler(QueueFull)
    def busy(error: QueueFull) -> tuple[Response, int]:
        return jsonify(error=str(error)), 429

    @app.errorhandler(RequestError)
    def refused(error: RequestError) -> tuple[Response, int]:
        return jsonify(error=error.message), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response, int]:
        message = error.description or error.name
        if error.code == 413:
            message = f"upload refused: the limit is {UPLOAD_MAX_BYTES / 1e6:.0f} MB"
        return jsonify(error=message), error.code or 500

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response, int]:
        text = str(error).strip()
        message = text.splitlines()[0] if text else type(error).__name__
        return jsonify(error=f"internal error: {message}"), 500

    @app.get("/")
    def page() -> Response:
        return send_from_directory(app.static_folder, "index.html")

    @app.get("/api/config")
    def config() -> Response:
        return jsonify(
            models=[e.to_dict() for e in models.entries.values()],
            selected=selected,
            image=images.get(image).to_dict(),
            samples=[f"sample:{name}" for name in SAMPLES],
            settings=DEFAULT_SETTINGS,
            methods=list(METHODS),
            detectors=list(DETECTORS),
            limits={
                "window_min": WINDOW_MIN,
                "window_max": WINDOW_MAX,
                "max_steps": MAX_STEPS,
                "upload_max_bytes": UPLOAD_MAX_BYTES,
                "upload_max_side": UPLOAD_MAX_SIDE,
            },
            colorbar=colorbar_stops(),
            token=token,
            token_header=TOKEN_HEADER,
        )

    def _image_size(entry: ImageEntry, default: int = 16) -> int:
        text = request.args.get("size", str(default))
        try:
            size = int(text)
        except ValueError:
            raise RequestError(400, f"size must be an integer, got {text!r}") from None
        if not WINDOW_MIN <= size <= WINDOW_MAX:
            raise RequestError(
                400, f"size must be in [{WINDOW_MIN}, {WINDOW_MAX}], got {size}"
            )
        if size > min(entry.height, entry.width):
            raise RequestError(
                400,
                f"size {size} does not fit in {entry.name} ({entry.width}x"
                f"{entry.height} pixels): at most {min(entry.height, entry.width)}",
            )
        return size

    def _cached(entry: ImageEntry, name: str, make: Any) -> Any:
        found = entry.cache.pop(name, None)
        data = make() if found is None else found
        entry.cache[name] = data  # most recently used last
        while len(entry.cache) > IMAGE_RENDERS_KEPT:
            del entry.cache[next(iter(entry.cache))]
        return data

    @app.get("/api/images/<image_id>")
    def image_info(image_id: str) -> Response:
        return jsonify(images.get(image_id).to_dict())

    @app.get("/api/images/<image_id>/picture.png")
    def image_picture(image_id: str) -> Response:
        entry = images.get(image_id)
        data = _cached(entry, "picture", lambda: png_bytes(image_rgb(entry.pixels)))
        return Response(data, mimetype="image/png")

    @app.get("/api/images/<image_id>/texture.png")
    def image_texture(image_id: str) -> Response:
        entry = images.get(image_id)
        size = _image_size(entry)
        data = _cached(entry, f"texture{size}", lambda: texture_overlay(entry, size))
        return Response(data, mimetype="image/png")

    @app.get("/api/images/<image_id>/windows")
    def image_windows(image_id: str) -> Response:
        entry = images.get(image_id)
        size = _image_size(entry)
        # the ranking of 'captum-lam windows' (the same border rule)
        found = auto_windows(entry.pixels, size=size, count=8)
        return jsonify(
            windows=[{"top": t, "left": left, "size": s} for t, left, s in found]
        )

    @app.post("/api/images")
    def upload() -> tuple[Response, int]:
        file = request.files.get("file")
        if file is None:
            raise RequestError(400, "no file in the upload (form field 'file')")
        entry = images.add_upload(file.filename or "", file.read())
        return jsonify(entry.to_dict()), 201

    def _job_json(job: Job) -> dict[str, Any]:
        req = job.request
        entry = models.entries[req.model]
        body: dict[str, Any] = {
            "key": job.key,
            "model": req.model,
            "state": job.state,
            "progress": {"done": job.done_steps, "total": job.total_steps},
            "command": explain_command(
                entry, images.get(req.image), req.window, dict(req.settings)
            ),
        }
        if job.error is not None:
            body["error"] = job.error
        if job.state == DONE:
            result: LamResult = job.result
            body["result"] = result.summary()
            base = f"/api/lam/{job.key}"
            body["urls"] = {name: f"{base}/{name}.png" for name in PANELS}
            body["urls"].update(figure=f"{base}/figure.png", map=f"{base}/map.npz")
        return body

    @app.post("/api/lam")
    def lam_submit() -> tuple[Response, int]:
        payload = _json_body()
        job = runner.submit(parse_request(payload, models, images))
        return jsonify(_job_json(job)), 200 if job.state == DONE else 202

    def _job(key: str) -> Job:
        job = runner.get(key)
        if job is None:
            raise RequestError(404, f"no computation {key!r} (ask again)")
        return job

    @app.get("/api/lam/<key>")
    def lam_status(key: str) -> Response:
        return jsonify(_job_json(_job(key)))

    @app.delete("/api/lam/<key>")
    def lam_cancel(key: str) -> Response:
        runner.cancel(key)
        return jsonify(_job_json(_job(key)))

    def _result(key: str) -> LamResult:
        job = _job(key)
        if job.state != DONE:
            raise RequestError(409, f"computation {key!r} is {job.state}")
        return job.result

    def _render(key: str, name: str, make: Any) -> bytes:
        with renders_lock:
            if (key, name) in renders:
                renders.move_to_end((key, name))
                return renders[(key, name)]
        data = make()
        with renders_lock:
            renders[(key, name)] = data
            while len(renders) > RENDERS_KEPT:
                renders.popitem(last=False)
        return data

    @app.get("/api/lam/<key>/<name>.png")
    def lam_png(key: str, name: str) -> Response:
        result = _result(key)
        if name == "figure":
            data = _render(key, name, lambda: figure_png(result))
            filename = _download_name(result, "png")
            return Response(
                data,
                mimetype="image/png",
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        if name not in PANELS:
            raise RequestError(
                404, f"unknown panel {name!r}; panels are {', '.join(PANELS)}"
            )
        data = _render(key, "panels", lambda: panels(result))
        return Response(data[name], mimetype="image/png")  # type: ignore[index]

    @app.get("/api/lam/<key>/map.npz")
    def lam_npz(key: str) -> Response:
        result = _result(key)
        return Response(
            map_npz(result),
            mimetype="application/octet-stream",
            headers={
                "Content-Disposition": "attachment; "
                f'filename="{_download_name(result, "npz")}"'
            },
        )

    return app


def _json_body() -> Any:
    """The request's JSON, or a 400 (not JSON, too large, nested too deeply)."""
    data = request.get_data(cache=False)
    if len(data) > JSON_MAX_BYTES:
        raise RequestError(413, f"the JSON body is over {JSON_MAX_BYTES} bytes")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise RequestError(400, "the request body must be JSON") from None


def _compute_cancellable(
    request: Any, progress: Any, models: Models, images: Images
) -> LamResult:
    """`compute`, with a cancel taking effect before the model's next layer."""
    model = models.model(models.entry(request.model).name)
    with cancellable_passes(model, progress):
        return compute(request, progress, models=models, images=images)


def listen(host: str, port: int) -> Any:
    """A listening socket on ``host:port``; ValueError naming the option if not.

    Bound here, before the explorer loads anything, so that a busy port or an
    address this machine does not have is one line and exit 2.
    """
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )[0]
    except (socket.gaierror, UnicodeError) as error:
        raise ValueError(
            f"--host: cannot listen on {host!r} ({getattr(error, 'strerror', error)})"
        ) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ValueError(
                f"--port: port {port} on {host} is in use by another program; "
                "choose another (--port 0 picks a free one)"
            ) from None
        raise ValueError(
            f"--host: cannot listen on {host} port {port} ({error.strerror})"
        ) from None
    return sock


def make_server(
    app: Flask,
    host: str = "127.0.0.1",
    port: int = 0,
    sock: Any = None,
    idle_timeout: float = IDLE_TIMEOUT,
) -> Any:
    """A threaded WSGI server for ``app`` that logs only refused requests.

    A connection silent for ``idle_timeout`` seconds is closed, so half-sent
    requests cannot hold the server's threads. ``sock``: a socket from `listen`
    (default: one is opened here).
    """
    from werkzeug.serving import WSGIRequestHandler
    from werkzeug.serving import make_server as _make_server

    class QuietHandler(WSGIRequestHandler):
        timeout = idle_timeout

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            if str(code).isdigit() and int(code) >= 400:
                super().log_request(code, size)

    sock = sock if sock is not None else listen(host, port)
    try:
        server = _make_server(
            host,
            port,
            app,
            threaded=True,
            request_handler=QuietHandler,
            fd=sock.fileno(),
        )
    finally:
        sock.close()  # the server holds its own duplicate
    server.server_port = server.port  # the port bound (port 0: a free one)
    return server


def server_url(host: str, port: int) -> str:
    """The address a browser opens (IPv6 literals in brackets).

    >>> server_url("::1", 8765), server_url("127.0.0.1", 80)
    ('http://[::1]:8765/', 'http://127.0.0.1:80/')
    """
    name = f"[{host}]" if ":" in host else host
    return f"http://{name}:{port}/"


def _download_name(result: LamResult, suffix: str) -> str:
    top, left, size = result.request.window
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in result.image.name)
    return f"lam_{result.request.model}_{stem}_{top}_{left}_{size}.{suffix}"
