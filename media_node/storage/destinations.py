"""An uploader for a destination as the control plane describes it.

``GET /rooms/{roomId}/recordings/{recordingId}/destination`` answers
``{type: "s3"|"gcs"|"azure", bucket | (account, container), region?, prefix, endpoint?,
forcePathStyle?, roleArn?, externalId?, sealed}``; ``sealed`` opens to the credentials.
"""
from __future__ import annotations

from .base import RetryPolicy, Uploader
from .errors import DestinationRefused


def uploader_for(destination: dict, credentials: dict | None,
                 retry: RetryPolicy | None = None) -> Uploader:
    """Build the uploader ``destination`` names.

    :param credentials: the opened ``sealed`` field (None: the node's default chain, or
        anonymous against a GCS emulator).
    :raises DestinationRefused: an unknown type or missing fields.
    """
    kind = destination.get("type")
    prefix = str(destination.get("prefix") or "")
    endpoint = destination.get("endpoint") or None
    try:
        if kind == "s3":
            from .s3 import S3Uploader, s3_client
            creds = credentials
            if destination.get("roleArn"):
                creds = assume_role(destination, credentials)
            client = s3_client(destination.get("region"), endpoint,
                               bool(destination.get("forcePathStyle")), creds)
            return S3Uploader(client, destination["bucket"], prefix, retry=retry,
                              secrets=_secret_values(creds))
        if kind == "gcs":
            from .gcs import GCSUploader, gcs_client
            client = gcs_client(destination.get("project"), endpoint, credentials)
            return GCSUploader(client, destination["bucket"], prefix, retry=retry,
                               secrets=_secret_values(credentials))
        if kind == "azure":
            from .azure import AzureBlobUploader, azure_service
            service = azure_service(destination["account"], endpoint, credentials or {})
            return AzureBlobUploader(service, destination["container"], prefix, retry=retry,
                                     secrets=_secret_values(credentials))
    except KeyError as missing:
        raise DestinationRefused(f"the {kind} destination has no {missing}") from None
    raise DestinationRefused(f"unknown destination type {kind!r}")


def assume_role(destination: dict, credentials: dict | None) -> dict:
    """Temporary credentials of ``roleArn`` (with ``externalId``), valid one hour."""
    from .s3 import sts_client
    params = {"RoleArn": destination["roleArn"], "RoleSessionName": "dropon-recording"}
    if destination.get("externalId"):
        params["ExternalId"] = destination["externalId"]
    sts = sts_client(destination.get("region"), credentials)
    try:
        got = sts.assume_role(**params)["Credentials"]
    except Exception as exc:  # botocore's ClientError and friends
        raise DestinationRefused(f"cannot assume {destination['roleArn']}: {exc}") from None
    return {"accessKeyId": got["AccessKeyId"], "secretAccessKey": got["SecretAccessKey"],
            "sessionToken": got["SessionToken"]}


def _secret_values(credentials: dict | None) -> tuple[str, ...]:
    if not credentials:
        return ()
    keys = ("secretAccessKey", "sessionToken", "accountKey", "sasToken", "private_key")
    return tuple(str(credentials[k]) for k in keys if credentials.get(k))
