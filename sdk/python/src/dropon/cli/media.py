"""``dropon recordings``, ``dropon destinations`` and ``dropon webhooks``."""
from __future__ import annotations

import json
from pathlib import Path

import click

from . import fail, main
from .output import Output, common_json, human_bytes

pass_out = click.make_pass_decorator(Output)


def print_recordings(out: Output, recordings) -> None:
    """A table of recordings."""
    out.table("recordings", ["id", "output", "status", "files", "destination", "error"], [
        [r.recording_id, r.output, r.status, len(r.files), r.destination_id, r.error]
        for r in recordings])


def print_recording(out: Output, recording) -> None:
    """A recording and its files (sizes, checksums)."""
    print_recordings(out, [recording])
    out.table("files", ["uri", "kind", "size", "seconds", "sha256"], [
        [f.uri, f.kind, human_bytes(f.bytes), f.duration_seconds, f.sha256]
        for f in recording.files])


@main.group()
def recordings():
    """Record a room into a destination, and see the files it wrote."""


@recordings.command("list")
@click.argument("room_id")
@common_json
@pass_out
def list_recordings(out: Output, room_id):
    """The room's recordings."""
    out.show(out.client.list_recordings(room_id), lambda rs: print_recordings(out, rs))


@recordings.command("start")
@click.argument("room_id")
@click.option("--destination", "destination_id", required=True, help="A destination id.")
@click.option("--output", type=click.Choice(["per-track", "composite"]), default="per-track",
              show_default=True)
@common_json
@pass_out
def start_recording(out: Output, room_id, destination_id, output):
    """Start recording an SFU room."""
    out.show(out.client.start_sfu_recording(room_id, destination_id, output),
             lambda r: print_recording(out, r))


@recordings.command("stop")
@click.argument("room_id")
@click.argument("recording_id")
@common_json
@pass_out
def stop_recording(out: Output, room_id, recording_id):
    """Stop a recording (its node still uploads)."""
    out.show(out.client.stop_recording(room_id, recording_id), lambda r: print_recording(out, r))


@recordings.command("show")
@click.argument("room_id")
@click.argument("recording_id")
@common_json
@pass_out
def show_recording(out: Output, room_id, recording_id):
    """A recording with its files: sizes and checksums."""
    out.show(out.client.get_recording(room_id, recording_id), lambda r: print_recording(out, r))


@main.group()
def destinations():
    """The buckets recordings go to (s3, gcs, azure)."""


def print_destinations(out: Output, found) -> None:
    """A table of destinations, with the names of their secrets only."""
    out.table("destinations", ["id", "type", "where", "prefix", "secrets"], [
        [d.destination_id, d.type, d.get("bucket") or f"{d.get('account')}/{d.get('container')}",
         d.get("prefix"), ", ".join(d.secret_fields)] for d in found])


@destinations.command("create")
@click.argument("type_", metavar="TYPE", type=click.Choice(["s3", "gcs", "azure"]))
@click.option("--bucket", help="s3, gcs.")
@click.option("--region", help="s3.")
@click.option("--account", help="azure: the storage account.")
@click.option("--container", help="azure.")
@click.option("--prefix", help="The folder recordings go into.")
@click.option("--endpoint", help="Another endpoint (an emulator, an S3-compatible store).")
@click.option("--force-path-style", is_flag=True, default=None, help="s3: path-style URLs.")
@click.option("--access-key-id", help="s3 credentials.")
@click.option("--secret-access-key", envvar="DROPON_S3_SECRET_ACCESS_KEY", help="s3 credentials.")
@click.option("--role-arn", help="s3: a role to assume.")
@click.option("--external-id", help="s3: the role's external id.")
@click.option("--credentials-file", type=click.Path(exists=True, dir_okay=False),
              help="gcs: a service-account JSON key.")
@click.option("--account-key", help="azure.")
@click.option("--sas-token", help="azure.")
@common_json
@pass_out
def create_destination(out: Output, type_, access_key_id, secret_access_key, credentials_file,
                       **settings):
    """Register a bucket; its secrets are never shown again."""
    if access_key_id or secret_access_key:
        settings["credentials"] = {"accessKeyId": access_key_id,
                                   "secretAccessKey": secret_access_key}
    if credentials_file:
        settings["credentials"] = json.loads(Path(credentials_file).read_text())
    made = out.client.create_destination(type_, **settings)
    out.show(made, lambda d: print_destinations(out, [d]))


@destinations.command("list")
@common_json
@pass_out
def list_destinations(out: Output):
    """Every destination (no secrets)."""
    out.show(out.client.list_destinations(), lambda ds: print_destinations(out, ds))


@destinations.command("show")
@click.argument("destination_id")
@common_json
@pass_out
def show_destination(out: Output, destination_id):
    """One destination (no secrets)."""
    out.show(out.client.get_destination(destination_id),
             lambda d: out.fields(f"destination {d.destination_id}", list(d.raw.items())))


@destinations.command("delete")
@click.argument("destination_id")
@common_json
@pass_out
def delete_destination(out: Output, destination_id):
    """Forget a destination."""
    out.show(out.client.delete_destination(destination_id),
             lambda _: out.line(f"deleted {destination_id}"))


@destinations.command("verify")
@click.argument("destination_id")
@common_json
@pass_out
def verify_destination(out: Output, destination_id):
    """Write and delete a probe object; exit 1 when the store refuses."""
    answer = out.client.verify_destination(destination_id)
    if not answer.get("ok"):
        fail("destination_unverified", str(answer.get("error")))
    out.show(answer, lambda _: out.line(f"ok: {destination_id} takes writes"))


@main.group()
def webhooks():
    """Signed HTTP deliveries of room events."""


def print_webhooks(out: Output, found) -> None:
    """A table of webhook endpoints."""
    out.table("webhooks", ["id", "url", "events", "rooms", "status"], [
        [w.webhook_id, w.url, ",".join(w.events), ",".join(w.rooms or ["*"]), w.status]
        for w in found])


@webhooks.command("create")
@click.argument("url")
@click.option("--event", "events", multiple=True, help="An event type (repeat); default all.")
@click.option("--room", "rooms", multiple=True, help="Only this room (repeat); default all.")
@common_json
@pass_out
def create_webhook(out: Output, url, events, rooms):
    """Register an endpoint; its secret is printed this once."""
    made = out.client.create_webhook(url, list(events) or None, rooms=list(rooms) or None)

    def human(w):
        print_webhooks(out, [w])
        out.line(f"secret (shown once): {w.secret}")
    out.show(made, human)


@webhooks.command("list")
@common_json
@pass_out
def list_webhooks(out: Output):
    """Every endpoint (no secrets)."""
    out.show(out.client.list_webhooks(), lambda ws: print_webhooks(out, ws))


@webhooks.command("show")
@click.argument("webhook_id")
@common_json
@pass_out
def show_webhook(out: Output, webhook_id):
    """One endpoint and its latest deliveries."""
    client = out.client
    hook, deliveries = client.get_webhook(webhook_id), client.webhook_deliveries(webhook_id)

    def human(_):
        print_webhooks(out, [hook])
        out.table("deliveries", ["at", "room", "seq", "type", "attempt", "outcome", "code",
                                 "ms"], [[d.get(k) for k in ("at", "roomId", "seq", "type",
                                          "attempt", "outcome", "responseCode", "latencyMs")]
                                         for d in deliveries])
    out.show({**hook.raw, "deliveries": deliveries}, human)


@webhooks.command("delete")
@click.argument("webhook_id")
@common_json
@pass_out
def delete_webhook(out: Output, webhook_id):
    """Stop sending to an endpoint."""
    out.show(out.client.delete_webhook(webhook_id), lambda w: print_webhooks(out, [w]))


@webhooks.command("rotate-secret")
@click.argument("webhook_id")
@click.option("--keep-previous-for", type=int, help="Seconds the old secret still signs.")
@common_json
@pass_out
def rotate_secret(out: Output, webhook_id, keep_previous_for):
    """A new secret, printed this once."""
    answer = out.client.rotate_webhook_secret(webhook_id, keep_previous_for=keep_previous_for)
    out.show(answer, lambda a: out.line(f"secret (shown once): {a['secret']}"))
