"""The review's Flask app and its server, bound to 127.0.0.1 only.

The review's random token is asked for once: ``/?token=`` (the private
launch file leads there) sets an HttpOnly, SameSite=Strict cookie and
leads on to ``/``, so the token is in no later address. Every request but
the static files then carries the cookie (or the ``X-Review-Token``
header, for scripts); another local user, or another page open in the
same browser, can neither read nor act. Only a Host of 127.0.0.1 or
localhost is answered (DNS rebinding), and no request is logged. Images
are served by photo id: no path ever comes from a request.
"""

from __future__ import annotations

import hmac
import secrets
import sqlite3
import threading
from typing import TYPE_CHECKING

import flask
from beets import context, logging
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler, make_server

from ..imaging.errors import ImageError
from ..rename.live import Busy, locked_line
from .previews import SIZES, Previews
from .session import NotFound, ReviewError

if TYPE_CHECKING:
    from .session import Review

HOST = "127.0.0.1"
HOSTS = (HOST, "localhost")  # the names the review answers to
HEADER = "X-Review-Token"
UNGUARDED = ("static", "favicon")  # endpoints served without the token
log = logging.getLogger("beets")

# The page the token's address answers with: the cookie is set by it, and
# a navigation the page starts itself carries the cookie (a redirect that
# follows a navigation from a file:// page would not: SameSite=Strict).
SIGNED_IN = ('<!DOCTYPE html><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
             '<meta http-equiv="refresh" content="0; url=/"><title>beets-similar review</title>'
             '<a href="/">open the review</a>')


def new_token() -> str:
    return secrets.token_urlsafe(24)


def same_token(given: str | None, token: str) -> bool:
    """Whether ``given`` is the token, compared in constant time as bytes
    (any text a request brings, not only ASCII)."""
    return bool(given) and hmac.compare_digest(given.encode("utf-8", "replace"),
                                               token.encode("utf-8"))


def cookie_name(host: str) -> str:
    """One cookie per review: cookies are shared by every port of a host."""
    return "similar_review_" + (host.rpartition(":")[2] if ":" in host else "80")


def create_app(review: Review, token: str, previews: Previews | None = None) -> flask.Flask:
    app = flask.Flask(__name__)
    app.json.sort_keys = False
    previews = previews or Previews()

    def fail(status: int, message: str):
        return flask.jsonify({"error": message}), status

    @app.before_request
    def local_host_only():
        # A page of another site whose name now resolves to 127.0.0.1 sends its own name.
        name = flask.request.host.rpartition(":")[0] or flask.request.host
        if name.lower() not in HOSTS:
            given = flask.request.headers.get("Host", "")[:80]
            return fail(403, f"this review answers at {HOST} only, not at {given!r}")
        return None

    @app.before_request
    def in_library():
        # Each request runs on a thread of its own: give it beets' library
        # folder, which turns paths stored relative to it into full ones.
        context.set_music_dir(review.lib.directory)

    @app.before_request
    def check_token():
        request = flask.request
        if request.endpoint in UNGUARDED:
            return None
        if request.path == "/" and "token" in request.args:
            if not same_token(request.args["token"], token):
                return fail(403, "this address's token is not this review's; open the file "
                                 "that `beet similar-review` printed")
            return None  # page() signs the browser in
        given = request.headers.get(HEADER) or request.cookies.get(cookie_name(request.host))
        if not same_token(given, token):
            return fail(403, "this review is open only to the browser that opened the file "
                             "`beet similar-review` printed")
        return None

    @app.errorhandler(NotFound)
    def not_found(exc):
        return fail(404, str(exc))

    @app.errorhandler(ReviewError)
    def refused(exc):
        return fail(409, str(exc))

    @app.errorhandler(Busy)
    def busy(exc):  # another beet process is changing files
        return fail(409, str(exc))

    @app.errorhandler(sqlite3.OperationalError)
    def database(exc):
        if "locked" not in str(exc) and "busy" not in str(exc):
            return failed(exc)
        return fail(409, locked_line(review.lib))

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code == 404:
            return fail(404, f"no such page: {flask.request.path}")
        return fail(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def failed(exc):
        log.warning("similar: review: {} failed: {}: {}", flask.request.path,
                    type(exc).__name__, exc)
        return fail(500, f"the review could not do this ({type(exc).__name__}: {exc}); "
                         "the terminal has the same line")

    @app.after_request
    def guarded(response):
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
        return response

    def body() -> dict:
        data = flask.request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ReviewError("send a JSON object")
        return data

    @app.get("/")
    def page():
        if "token" in flask.request.args:
            response = flask.Response(SIGNED_IN, mimetype="text/html")
            response.set_cookie(cookie_name(flask.request.host), token, httponly=True,
                                samesite="Strict", path="/")
            response.headers["Cache-Control"] = "no-store"
            return response
        return flask.render_template("review.html")

    @app.get("/favicon.ico")
    def favicon():
        return "", 204

    @app.get("/api/state")
    def state():
        return review.state()

    @app.get("/api/groups")
    def listing():
        args = flask.request.args
        return {"total": len(review.groups),
                "groups": review.listing(args.get("offset", 0, int), args.get("limit", 100, int))}

    @app.get("/api/groups/<int:index>")
    def group(index: int):
        return review.details(index)

    def seen() -> str:
        """The group's version as the page showed it (see Review.version)."""
        version = body().get("version")
        if not isinstance(version, str):
            raise ReviewError("send the group's version as the page shows it")
        return version

    @app.post("/api/groups/<int:index>/apply")
    def apply(index: int):
        data = body()
        keep = data.get("keep")
        if not isinstance(keep, list) or not all(isinstance(i, int) for i in keep):
            raise ReviewError("keep is a list of photo ids")
        return review.apply(index, keep, str(data.get("action", "trash")), seen())

    @app.post("/api/groups/<int:index>/keep-all")
    def keep_all(index: int):
        return review.keep_all(index, seen())

    @app.post("/api/groups/<int:index>/skip")
    def skip(index: int):
        return review.skip(index, seen())

    @app.post("/api/position")
    def position():
        index = body().get("index")
        if not isinstance(index, int):
            raise ReviewError("index is a group number")
        review.remember(index)
        return {"index": index}

    @app.post("/api/undo")
    def undo():
        return review.undo()

    @app.get("/api/bulk")
    def bulk_count():
        return review.bulk_count(flask.request.args.get("reason") or None)

    @app.post("/api/bulk")
    def bulk():
        data = body()
        expect = data.get("expect")
        if not isinstance(expect, dict):
            raise ReviewError("send the count the dialog showed (expect)")
        return review.bulk(str(data.get("kind") or ""), data.get("reason") or None,
                           str(data.get("action") or "trash"), expect)

    @app.get("/img/<int:photo_id>/<size>")
    def image(photo_id: int, size: str):
        if size not in SIZES:
            return fail(404, f"no image size {size!r}; use {', '.join(SIZES)}")
        path, digest = review.photo_file(photo_id)
        try:
            data = previews.get(photo_id, path, digest, size)
        except ImageError as exc:
            return fail(422, str(exc))
        response = flask.Response(data, mimetype="image/jpeg")
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response

    return app


class _Quiet(WSGIRequestHandler):
    """Logs no request: a log line per request is noise, and a log file
    that others can read must not learn the review's addresses."""

    def log(self, type: str, message: str, *args) -> None:
        pass


class Server:
    """The app served from a thread on 127.0.0.1 (``port`` 0: a free one)."""

    def __init__(self, app: flask.Flask, port: int = 0) -> None:
        self.httpd = make_server(HOST, port, app, threaded=True, request_handler=_Quiet)
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def start(self) -> Server:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.thread.is_alive():  # (shutdown waits for a loop that never ran, else)
            self.httpd.shutdown()
        self.httpd.server_close()
        if self.thread.ident is not None:  # started
            self.thread.join(timeout=5)
