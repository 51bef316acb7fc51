"""One place that turns errors into answers: JSON under the API prefix."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from outsource_plugin.errors import OutsourceError


def register_error_handlers(app: Flask, api_prefixes: tuple[str, ...]) -> None:
    def wants_json() -> bool:
        return request.path.startswith(api_prefixes) or request.is_json

    @app.errorhandler(OutsourceError)
    def outsource_error(err: OutsourceError) -> tuple[Response | str, int]:
        from outsource_plugin.state import current_outsource

        current_outsource().session.rollback()
        if wants_json():
            return jsonify(err.to_dict()), err.status_code
        return render_template("outsource/error.html", error=err), err.status_code

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response | HTTPException:
        if not request.path.startswith(api_prefixes):
            return err
        response = jsonify({"error": (err.name or "error").lower().replace(" ", "_"), "message": err.description})
        response.status_code = err.code or 500
        return response
