"""The embedded DynamoDB's HTTP server: moto's DynamoDB and DynamoDB Streams apps behind
one lock, with DynamoDB's size limits and an optional journal.

moto's backends are not safe under concurrent requests (transactions are not isolated,
and scans can fail with "dictionary changed size during iteration"). DynamoDB itself
serializes conflicting transactions, so ``SerializedApp`` runs one request at a time:
that is the isolation, and the journal's order is the order of the writes.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import threading
import time
from collections import OrderedDict

from moto.moto_server.werkzeug_app import create_backend_app
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, make_server
from werkzeug.test import Client

from . import limits, responses, transactions
from .journal import Journal, Record

DYNAMODB = "DynamoDB_20120810."
STREAMS = "DynamoDBStreams_20120810."
# the actions that change nothing; every other action that succeeds is journalled
READS = frozenset({
    "GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable",
    "ListTables", "DescribeTimeToLive", "DescribeContinuousBackups", "ListTagsOfResource",
    "DescribeLimits", "DescribeEndpoints", "ListBackups", "DescribeBackup",
    "ListGlobalTables", "DescribeGlobalTable", "DescribeExport", "ListExports",
    "DescribeImport", "ListImports", "DescribeKinesisStreamingDestination",
    "DescribeContributorInsights", "GetResourcePolicy",
})
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d+/([^/]+)/")
TOKEN_SECONDS = 600  # DynamoDB keeps a ClientRequestToken for 10 minutes


def _error(code: str, message: str) -> tuple[str, list, bytes]:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}",
                       "message": message}).encode()
    return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.0"),
                               ("Content-Length", str(len(body)))], body


class SerializedApp:
    """A WSGI app: DynamoDB and its streams, one request at a time, journalled."""

    def __init__(self, journal: Journal | None = None):
        transactions.install()
        # DROPON_DYNAMODB_VERIFY_ANSWERS=1: every fast answer is checked against moto's own
        responses.install(verify=os.environ.get("DROPON_DYNAMODB_VERIFY_ANSWERS") == "1")
        self.dynamodb = create_backend_app("dynamodb")
        self.streams = create_backend_app("dynamodbstreams")
        self.journal = journal
        self.lock = threading.Lock()
        # ClientRequestToken -> (body digest, expiry, the answer given); moto has none
        self.tokens: OrderedDict[str, tuple[str, float, tuple]] = OrderedDict()

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        app = self.streams if target.startswith(STREAMS) else self.dynamodb
        action = target[len(DYNAMODB):] if target.startswith(DYNAMODB) else ""
        token = None
        if action in ("PutItem", "BatchWriteItem", "TransactWriteItems"):
            try:
                request = json.loads(body or b"{}")
                limits.check(action, request)
                token = request.get("ClientRequestToken") if action == "TransactWriteItems" else None
            except limits.LimitExceeded as refused:
                return self._answer(start_response, *_error("ValidationException", str(refused)))
            except (ValueError, AttributeError):
                pass  # malformed JSON: moto answers it
        answered = []

        def remember(code, headers, exc_info=None):
            answered.append((code, headers))
            return start_response(code, headers, exc_info)

        with self.lock:
            if token is not None:
                repeat = self._repeat(token, hashlib.sha256(body).hexdigest())
                if repeat is not None:
                    return self._answer(start_response, *repeat)
            # moto's responses are built in full here, so the journal line is written
            # (and flushed) before the client can read the answer
            payload = b"".join(app(environ, remember))
            ok = bool(answered) and answered[0][0].startswith("200")
            if ok and self.journal is not None and action and action not in READS:
                region, key = _caller(environ.get("HTTP_AUTHORIZATION", ""))
                self.journal.append(action, region, key, body.decode("utf-8"))
            if ok and token is not None:
                self.tokens[token] = (hashlib.sha256(body).hexdigest(),
                                      time.monotonic() + TOKEN_SECONDS,
                                      (answered[0][0], answered[0][1], payload))
        return [payload]

    @staticmethod
    def _answer(start_response, status: str, headers: list, payload: bytes) -> list[bytes]:
        start_response(status, headers)
        return [payload]

    def _repeat(self, token: str, digest: str) -> tuple | None:
        """The answer already given to this ClientRequestToken, as DynamoDB gives it again
        (botocore resends a transaction whose answer it lost), or a mismatch error."""
        now = time.monotonic()
        while self.tokens and next(iter(self.tokens.values()))[1] < now:
            self.tokens.popitem(last=False)
        seen = self.tokens.get(token)
        if seen is None:
            return None
        if seen[0] != digest:
            return _error("IdempotentParameterMismatchException",
                          "The request uses the same client token as a previous, "
                          "but non-identical request.")
        return seen[2]

    def replay(self, record: Record) -> None:
        """Apply one journalled request again (start-up, before serving)."""
        headers = {"X-Amz-Target": DYNAMODB + record.action,
                   "Content-Type": "application/x-amz-json-1.0",
                   "Authorization": f"AWS4-HMAC-SHA256 Credential={record.access_key}/20200101/"
                                    f"{record.region}/dynamodb/aws4_request, "
                                    "SignedHeaders=host, Signature=0"}
        response = Client(self.dynamodb).post("/", data=record.body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"journal record {record.seq} ({record.action}) replayed as "
                               f"{response.status_code}: {response.get_data(as_text=True)[:300]}")

    def snapshot(self) -> None:
        if self.journal is not None:
            with self.lock:
                self.journal.take_snapshot()


def _caller(authorization: str) -> tuple[str, str]:
    """(region, access key id) from a SigV4 header; moto's defaults when absent."""
    match = CREDENTIAL.search(authorization)
    return (match.group(2), match.group(1)) if match else ("us-east-1", "local")


class KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1, so botocore's pooled connections are reused instead of reopened."""

    protocol_version = "HTTP/1.1"

    def log_request(self, *args, **kwargs):  # one line per request would drown the log
        pass


def serve(app: SerializedApp, host: str, port: int, backlog: int = 1024) -> ThreadedWSGIServer:
    """A threaded server on ``host:port`` with a listen backlog of ``backlog``."""
    server = make_server(host, port, app, threaded=True, request_handler=KeepAliveHandler)
    server.socket.listen(backlog)  # socketserver's default is 128; a burst opens more
    server.daemon_threads = True
    return server
