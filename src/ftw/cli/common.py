"""What the commands share: the console, the database they act on, the checks before serving."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from ftw.config import Settings

console = Console()


def database_url(settings: Settings) -> str:
    """The configured URL, or the embedded server's (started on demand under the data dir)."""
    if settings.database_url:
        return settings.database_url
    from ftw.core.embedded import start_embedded

    with console.status("Starting the embedded PostgreSQL under " + str(settings.data_dir / "pgdata")):
        return start_embedded(settings.data_dir)


def to_head(url: str) -> None:
    """Apply every migration up to head."""
    from ftw.core import migrations

    migrations.upgrade(url)


def refuse_sandboxes(settings: Settings) -> None:
    from ftw.sandboxes import SandboxInProduction
    from ftw.sandboxes import refuse_sandboxes as refuse

    try:
        refuse(settings)
    except SandboxInProduction as refusal:
        console.print(f"[red]✗[/] {escape(str(refusal))}", soft_wrap=True)
        raise typer.Exit(1) from refusal
