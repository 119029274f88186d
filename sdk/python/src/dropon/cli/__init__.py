"""The ``dropon`` command line: the SDK's calls for people (tables) and scripts (``--json``).

Configuration comes from ``DROPON_API_URL``, ``DROPON_API_KEY``, ``DROPON_API_SECRET`` and
``DROPON_WS_URL`` (``make run`` prints the lines to export) or the same-named flags.
An error is one line on stderr, ``error <code>: <message>``, and exit status 1 (2 for a
command line that click refuses).
"""
from __future__ import annotations

import json
import sys

import click

from ..errors import DropOnError
from .output import Output

EXIT_ERROR = 1


class DropOnGroup(click.Group):
    """A click group that turns the SDK's errors into one line and a non-zero exit."""

    def invoke(self, ctx: click.Context):
        """Run the command; an SDK error becomes one line and exit status 1."""
        try:
            return super().invoke(ctx)
        except DropOnError as exc:
            fail(exc.code, exc.message)
        except ValueError as exc:  # a missing setting, or a bad argument the SDK refused
            fail("invalid_argument", str(exc))


def fail(code: str, message: str):
    """Print ``error <code>: <message>`` on stderr and exit with status 1."""
    click.echo(f"error {code}: {message}", err=True)
    sys.exit(EXIT_ERROR)


@click.group(cls=DropOnGroup)
@click.option("--api-url", envvar="DROPON_API_URL", help="The API, e.g. http://127.0.0.1:8000.")
@click.option("--api-key", envvar="DROPON_API_KEY", help="The API key id.")
@click.option("--api-secret", envvar="DROPON_API_SECRET", help="The API secret.")
@click.option("--ws-url", envvar="DROPON_WS_URL", help="The events socket, ws://127.0.0.1:8001.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.version_option(package_name="dropon")
@click.pass_context
def main(ctx: click.Context, api_url, api_key, api_secret, ws_url, as_json):
    """DropOnAir Rooms from the command line."""
    settings = dict(api_key=api_key, api_secret=api_secret, ws_url=ws_url)
    ctx.obj = Output(as_json, lambda: _client(api_url, settings))


def _client(api_url, settings):
    from ..client import Client
    if not api_url:
        raise ValueError("no API URL: set DROPON_API_URL or pass --api-url")
    return Client(api_url, **settings)


def parse_json(value: str | None, what: str):
    """A JSON object given on the command line, or ``None``."""
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint=what) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object", param_hint=what)
    return parsed


from . import media, rooms  # noqa: E402,F401 - the commands register themselves on main
