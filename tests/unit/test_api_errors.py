"""One error shape for every failure; nothing of an unexpected exception leaks."""
import json

from chalice import Response

from chalicelib.api import errors
from chalicelib.domain.errors import RoomFull, RoomNotFound


def shape(response):
    body = response.body if isinstance(response.body, dict) else json.loads(response.body)
    return response.status_code, body["error"]


def test_domain_error_keeps_its_code_status_and_ids():
    status, error = shape(errors.to_response(RoomNotFound("r1")))
    assert status == 404 and error["code"] == "room_not_found" and error["roomId"] == "r1"
    assert shape(errors.to_response(RoomFull("full")))[0] == 409


def test_api_error():
    assert shape(errors.to_response(errors.ApiError("invalid_json", "bad", 400))) == (
        400, {"code": "invalid_json", "message": "bad"})


def test_unexpected_exception_is_internal_error_without_detail():
    status, error = shape(errors.to_response(KeyError("secret-detail")))
    assert status == 500 and error == {"code": "internal_error", "message": "internal error"}


def test_chalice_own_errors_are_rewritten():
    own = Response(body={"Code": "MethodNotAllowedError", "Message": "Unsupported method: PUT"},
                   status_code=405, headers={"Allow": "GET"})
    status, error = shape(errors.normalize(own))
    assert (status, error["code"]) == (405, "method_not_allowed")
    assert errors.normalize(own).headers["Allow"] == "GET"


def test_success_passes_through():
    fine = Response(body={"Code": "x", "Message": "y"}, status_code=200)
    assert errors.normalize(fine) is fine
