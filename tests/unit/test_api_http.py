"""The route decorator and middleware: whatever goes wrong leaves in the one error shape."""
import json

from chalice import Chalice, ChaliceUnhandledError
from chalice.test import Client

from chalicelib.api.http import install


def make_app():
    app = Chalice(app_name="shape")
    route = install(app)

    @route("/bug", "GET")
    def bug():
        raise KeyError("some-secret-detail")

    @app.route("/escaped", methods=["GET"])  # not wrapped: only the middleware sees it
    def escaped():
        raise ChaliceUnhandledError("some-secret-detail")

    @route("/fine", "POST")
    def fine():
        return {"ok": True}

    return app


def call(method, path, **kw):
    with Client(make_app(), project_dir="/nonexistent") as client:
        response = client.http.request(method, path, **kw)
    return response.status_code, json.loads(response.body)


def test_a_bug_in_a_view_is_internal_error_without_detail():
    assert call("GET", "/bug") == (500, {"error": {"code": "internal_error",
                                                    "message": "internal error"}})


def test_an_error_past_the_view_is_mapped_by_the_middleware():
    status, body = call("GET", "/escaped")
    assert status == 500 and body["error"]["code"] == "internal_error"
    assert "secret" not in json.dumps(body)


def test_chalice_own_refusals_take_the_shape():
    assert call("DELETE", "/fine")[1]["error"]["code"] == "method_not_allowed"
    status, body = call("POST", "/fine", headers={"content-type": "text/csv"}, body=b"a,b")
    assert (status, body["error"]["code"]) == (415, "unsupported_media_type")


def test_success_is_json():
    assert call("POST", "/fine", headers={"content-type": "application/json"}, body=b"{}") == (
        200, {"ok": True})
