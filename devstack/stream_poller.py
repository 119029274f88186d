"""The events table's DynamoDB stream, read locally and handed to ``app.py``'s stream
handler, as the Lambda event source mapping does when deployed.

It reads the embedded DynamoDB's own stream through boto3's ``dynamodbstreams`` client
(records as DynamoDB produced them, not built here), reshapes each page into the
Lambda event (``eventSourceARN``, ``ApproximateCreationDateTime`` in epoch seconds) and
calls the handler; a failed call is retried with the same records, as Lambda does.
"""
from __future__ import annotations

import logging
import os
import threading
import time

import boto3

log = logging.getLogger("stream_poller")
POLL_SECONDS = float(os.environ.get("DROPON_STREAM_POLL_SECONDS", "0.02"))


class StreamPoller:
    """Polls every shard of the events table's stream; ``run()`` until ``stop()``."""

    def __init__(self, table_name: str, handler, endpoint_url: str | None = None):
        self.table_name, self.handler = table_name, handler
        kw = {"endpoint_url": endpoint_url} if endpoint_url else {}
        self.dynamodb = boto3.client("dynamodb", **kw)
        self.streams = boto3.client("dynamodbstreams", **kw)
        self._stop = threading.Event()
        self.arn = self.stream_arn()
        self.iterators = {shard["ShardId"]: self.streams.get_shard_iterator(
            StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST",
        )["ShardIterator"] for shard in self.shards()}

    @classmethod
    def for_app(cls, module) -> "StreamPoller":
        """The poller of ``app.py``'s stream handler, on the table the environment names."""
        from eventsourcing.utils import Environment

        from chalicelib import bootstrap
        from chalicelib.application import RoomsApplication
        from chalicelib.persistence.settings import DynamoDBSettings
        bootstrap.application()  # the tables exist (CREATE_TABLE) before the stream is read
        env = Environment(RoomsApplication.name, dict(os.environ))
        name = DynamoDBSettings.from_env(env).table_name(RoomsApplication.name, "events")
        from chalice.app import DynamoDBEventConfig

        from .ws_gateway import handler
        config, = [c for c in module.app.event_sources if isinstance(c, DynamoDBEventConfig)]
        return cls(name, handler(module, config), os.environ.get("AWS_ENDPOINT_URL"))

    def stream_arn(self) -> str:
        table = self.dynamodb.describe_table(TableName=self.table_name)["Table"]
        if not table.get("StreamSpecification", {}).get("StreamEnabled"):
            # a table created before the stream was part of it (an old .data)
            self.dynamodb.update_table(TableName=self.table_name, StreamSpecification={
                "StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
            table = self.dynamodb.describe_table(TableName=self.table_name)["Table"]
        return table["LatestStreamArn"]

    def shards(self) -> list[dict]:
        return self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]

    def poll_once(self) -> int:
        """Hand every shard's new records to the handler; the number handed over."""
        handed = 0
        for shard, iterator in list(self.iterators.items()):
            page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            if page["Records"]:
                self.handler({"Records": [self.lambda_record(r) for r in page["Records"]]}, None)
                handed += len(page["Records"])
            self.iterators[shard] = page.get("NextShardIterator") or iterator
        return handed

    def lambda_record(self, record: dict) -> dict:
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if hasattr(created, "timestamp"):
            change["ApproximateCreationDateTime"] = created.timestamp()
        return {**record, "dynamodb": change, "eventSourceARN": self.arn}

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.poll_once():
                    self._stop.wait(POLL_SECONDS)
            except Exception:  # noqa: BLE001 - the same records again, as Lambda retries
                log.exception("stream handler failed; retrying")
                self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
