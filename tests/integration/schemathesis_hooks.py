"""schemathesis hooks for ``test_schemathesis.py`` (loaded by ``st run`` through
``SCHEMATHESIS_HOOKS``): each request carries the token its operation is made for.

``x-dropon-caller`` in the document names it: admin, a participant of the real room, or
a node. Participant and node requests, and every other admin request, use the real
room's ids, so that they reach the use cases; the rest keep the generated ids.
``DROPON_FUZZ_WORLD`` (JSON) holds the tokens and ids.
"""
from __future__ import annotations

import itertools
import json
import os

import schemathesis

WORLD = json.loads(os.environ.get("DROPON_FUZZ_WORLD", "{}"))
_admin_cases = itertools.count()


@schemathesis.hook
def before_call(context, case, kwargs):
    caller = case.operation.definition.raw["x-dropon-caller"]
    real = WORLD["ids"] if caller != "admin" or next(_admin_cases) % 2 else {}
    for name, value in real.items():
        if name in (case.path_parameters or {}):
            case.path_parameters[name] = value
    case.headers = {**(case.headers or {}),
                    "Authorization": f"Bearer {WORLD['tokens'][caller]}"}
