"""Event store failures leave the API in the one error shape, never as a 500."""
import json

from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from eventsourcing.persistence import OperationalError
from pynamodb.exceptions import GetError, QueryError, TransactWriteError

from chalicelib.api import errors
from chalicelib.persistence.errors import ItemTooLargeError, TransactionTooLargeError


def shape(response):
    return response.status_code, json.loads(response.body)["error"] \
        if isinstance(response.body, str) else response.body["error"]


def client_error(code: str, operation: str = "Query") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, operation)


def test_oversized_event_is_422_event_too_large():
    status, error = shape(errors.to_response(ItemTooLargeError("r1", 3, 500_000, 409_600)))
    assert (status, error["code"]) == (422, "event_too_large")
    assert "409600" in error["message"]


def test_oversized_save_is_422_save_too_large():
    status, error = shape(errors.to_response(TransactionTooLargeError("120 actions")))
    assert (status, error["code"]) == (422, "save_too_large")


def busy(exc):
    response = errors.to_response(exc)
    status, error = shape(response)
    assert (status, error["code"]) == (503, "store_unavailable"), (status, error)
    assert response.headers["Retry-After"].isdigit()
    return error


def test_throttled_read_is_503_with_retry_after():
    busy(QueryError("Failed", client_error("ProvisionedThroughputExceededException")))
    busy(GetError("Failed", client_error("ThrottlingException", "GetItem")))
    busy(QueryError("Failed", client_error("RequestLimitExceeded")))


def test_unavailable_service_is_503():
    busy(GetError("Failed", client_error("InternalServerError", "GetItem")))
    busy(QueryError("Failed", client_error("ServiceUnavailable")))


def test_connection_failures_are_503():
    busy(QueryError("Failed", EndpointConnectionError(endpoint_url="http://127.0.0.1:1")))
    busy(ReadTimeoutError(endpoint_url="http://127.0.0.1:1"))


def test_wrapped_throttling_is_found_through_the_chain():
    # the recorder turns pynamodb errors into eventsourcing's OperationalError "from" them
    try:
        try:
            raise TransactWriteError("Failed", client_error("ThrottlingException", "TransactWriteItems"))
        except TransactWriteError as e:
            raise OperationalError("DynamoDB transaction failed") from e
    except OperationalError as wrapped:
        error = busy(wrapped)
    assert "Throttling" not in error["message"]  # nothing of DynamoDB's text leaks


def test_other_store_errors_stay_internal():
    status, error = shape(errors.to_response(
        QueryError("Failed", client_error("ResourceNotFoundException"))))
    assert (status, error) == (500, {"code": "internal_error", "message": "internal error"})
    status, _ = shape(errors.to_response(OperationalError("gave up")))
    assert status == 500
