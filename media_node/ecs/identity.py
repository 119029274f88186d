"""Who a node is on ECS: its id and public URL from the task itself, so that every task
of the service is a node of its own.

Off ECS (no ``ECS_CONTAINER_METADATA_URI_V4``) nothing changes. On ECS, when
``DROPON_NODE_ID`` is unset the id is ``task-<task id>``, the last part of the task's
ARN; when ``DROPON_NODE_PUBLIC_URL`` is unset the URL is
``DROPON_NODE_PUBLIC_URL_TEMPLATE`` (default ``http://{public_ip}:{port}``: the node
speaks plain HTTP) filled with the discovered public address, the signaling port, the
node id and the task id. A TLS front with a name per task is a template such as
``https://{task_id}.nodes.example.com``.
"""
from __future__ import annotations

import re
from typing import Mapping

from ..ice.public_address import task_metadata

DEFAULT_URL_TEMPLATE = "http://{public_ip}:{port}"
# the control plane's node ids are [A-Za-z0-9._-]{1,64} (chalicelib/api/node_tokens.py)
TASK_ID = re.compile(r"^[A-Za-z0-9._-]{1,59}$")


class IdentityError(ValueError):
    """The task's identity cannot be derived; the message says what to set."""


def task_id(task_arn: str) -> str:
    """The task id of ``arn:aws:ecs:<region>:<account>:task/<cluster>/<id>`` (or of the
    older ``task/<id>``).

    :raises IdentityError: an ARN without a usable id.
    """
    found = task_arn.rsplit("/", 1)[-1] if ":task/" in task_arn else ""
    if not TASK_ID.match(found):
        raise IdentityError(f"cannot take a node id from the task ARN {task_arn!r}; "
                            "set DROPON_NODE_ID")
    return found


def public_url(template: str, *, public_ip: str, port: int, node_id: str, task: str) -> str:
    """``template`` filled in; ``{public_ip}``, ``{port}``, ``{node_id}``, ``{task_id}``.

    :raises IdentityError: an unknown placeholder, or ``{public_ip}`` with no address found.
    """
    if "{public_ip}" in template and not public_ip:
        raise IdentityError("no public address was found for DROPON_NODE_PUBLIC_URL "
                            "(ECS task metadata, DROPON_STUN_SERVER); set DROPON_ICE_PUBLIC_IP "
                            "or DROPON_NODE_PUBLIC_URL")
    try:
        return template.format(public_ip=public_ip, port=port, node_id=node_id,
                               task_id=task).rstrip("/")
    except (KeyError, IndexError, ValueError) as exc:
        raise IdentityError(f"DROPON_NODE_PUBLIC_URL_TEMPLATE {template!r}: {exc!r}; its "
                            "placeholders are {public_ip}, {port}, {node_id}, {task_id}") from None


async def ecs_identity(env: Mapping[str, str], public_ip: str,
                       port: int) -> dict[str, str]:
    """The ``node_id`` and ``public_url`` to use instead of the configuration's, from the
    ECS task; ``{}`` off ECS or when both are set explicitly.

    :raises IdentityError: on ECS, when the task's metadata gives no usable identity.
    """
    metadata = env.get("ECS_CONTAINER_METADATA_URI_V4", "")
    explicit_id = env.get("DROPON_NODE_ID", "").strip()
    explicit_url = env.get("DROPON_NODE_PUBLIC_URL", "").strip()
    if not metadata or (explicit_id and explicit_url):
        return {}
    try:
        arn = str((await task_metadata(metadata)).get("TaskARN", ""))
    except Exception as exc:  # noqa: BLE001 - any failure of the metadata endpoint
        raise IdentityError(f"ECS task metadata did not answer ({exc!r}); set "
                            "DROPON_NODE_ID and DROPON_NODE_PUBLIC_URL") from None
    task = task_id(arn)
    node_id = explicit_id or f"task-{task}"
    template = env.get("DROPON_NODE_PUBLIC_URL_TEMPLATE", "").strip() or DEFAULT_URL_TEMPLATE
    url = explicit_url.rstrip("/") or public_url(template, public_ip=public_ip, port=port,
                                                 node_id=node_id, task=task)
    return {"node_id": node_id, "public_url": url}
