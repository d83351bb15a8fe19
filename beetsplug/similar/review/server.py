"""The review's Flask app and its server, bound to 127.0.0.1 only.

Every request but the static files carries the review's random token
(``?token=`` or the ``X-Review-Token`` header), so another local user, or
another page open in the same browser, can neither read nor act. Images
are served by photo id: no path ever comes from a request.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from typing import TYPE_CHECKING

import flask
from beets import context
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from ..imaging.errors import ImageError
from .previews import SIZES, Previews
from .session import NotFound, ReviewError

if TYPE_CHECKING:
    from .session import Review

HOST = "127.0.0.1"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def create_app(review: Review, token: str, previews: Previews | None = None) -> flask.Flask:
    app = flask.Flask(__name__)
    app.json.sort_keys = False
    previews = previews or Previews()

    def fail(status: int, message: str):
        return flask.jsonify({"error": message}), status

    @app.before_request
    def in_library():
        # Each request runs on a thread of its own: give it beets' library
        # folder, which turns paths stored relative to it into full ones.
        context.set_music_dir(review.lib.directory)

    @app.before_request
    def check_token():
        if flask.request.endpoint == "static":
            return None
        given = flask.request.headers.get("X-Review-Token") or flask.request.args.get("token")
        if not given or not hmac.compare_digest(given, token):
            return fail(403, "this review needs the address printed by `beet "
                             "similar-review`, with its token")
        return None

    @app.errorhandler(NotFound)
    def not_found(exc):
        return fail(404, str(exc))

    @app.errorhandler(ReviewError)
    def refused(exc):
        return fail(409, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code == 404:
            return fail(404, f"no such page: {flask.request.path}")
        return fail(exc.code or 500, exc.description or exc.name)

    @app.after_request
    def no_framing(response):
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def body() -> dict:
        data = flask.request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ReviewError("send a JSON object")
        return data

    @app.get("/")
    def page():
        return flask.render_template("review.html", token=token)

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

    @app.post("/api/groups/<int:index>/apply")
    def apply(index: int):
        data = body()
        keep = data.get("keep")
        if not isinstance(keep, list) or not all(isinstance(i, int) for i in keep):
            raise ReviewError("keep is a list of photo ids")
        return review.apply(index, keep, str(data.get("action", "trash")))

    @app.post("/api/groups/<int:index>/keep-all")
    def keep_all(index: int):
        return review.keep_all(index)

    @app.post("/api/groups/<int:index>/skip")
    def skip(index: int):
        return review.skip(index)

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

    @app.route("/api/bulk", methods=["GET", "POST"])
    def bulk():
        data = body() if flask.request.method == "POST" else flask.request.args
        action = str(data.get("action") or "trash") if flask.request.method == "POST" else None
        return review.bulk(data.get("kind") or None, data.get("reason") or None, action)

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


class Server:
    """The app served from a thread on 127.0.0.1 (``port`` 0: a free one)."""

    def __init__(self, app: flask.Flask, port: int = 0) -> None:
        self.httpd = make_server(HOST, port, app, threaded=True)
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> Server:
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.thread.is_alive():  # (shutdown waits for a loop that never ran, else)
            self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
