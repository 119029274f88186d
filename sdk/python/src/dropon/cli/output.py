"""How the CLI prints: JSON for scripts (``--json``), rich tables for people."""
from __future__ import annotations

import dataclasses
import json

import click
from rich.console import Console
from rich.table import Table

from ..models import Model


def plain(value):
    """A result as JSON-ready data: a model's API JSON, lists of them, or the value."""
    if isinstance(value, Model):
        return value.raw
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return value


def human_bytes(n) -> str:
    """``1536`` -> ``1.5 KiB``."""
    if not isinstance(n, (int, float)):
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


class Output:
    """The command's client (built on first use) and its printer."""

    def __init__(self, as_json: bool, make_client):
        self.as_json = as_json
        self._make_client, self._client = make_client, None
        self.console = Console(soft_wrap=True, highlight=False)

    @property
    def client(self):
        """The SDK client, configured from the environment and the flags."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def json(self, value) -> None:
        """One line of compact JSON."""
        click.echo(json.dumps(plain(value), separators=(",", ":"), sort_keys=True))

    def line(self, text: str) -> None:
        """One line, printed and flushed as it comes (``events --follow``)."""
        click.echo(text)

    def table(self, title: str | None, columns: list[str], rows: list[list]) -> None:
        """A table for people."""
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        self.console.print(table)

    def fields(self, title: str, pairs: list[tuple[str, object]]) -> None:
        """A two-column table of a thing's fields."""
        self.table(title, ["field", "value"], [[k, v if not isinstance(v, (dict, list))
                                                 else json.dumps(v)] for k, v in pairs])

    def show(self, value, human) -> None:
        """JSON for ``--json``, else ``human(value)``."""
        if self.as_json:
            self.json(value)
        else:
            human(value)


def common_json(command):
    """A ``--json`` flag on a command too (``dropon rooms list --json``)."""
    def set_json(ctx, _param, value):
        if value:
            ctx.find_object(Output).as_json = True
    return click.option("--json", "as_json", is_flag=True, expose_value=False,
                        callback=set_json, help="Print JSON for scripts.")(command)
