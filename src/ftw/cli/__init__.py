"""The `ftw` command: one module per command group, registered here in the order `ftw --help`
lists them."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.markup import escape

from ftw.cli import db, ledger, measure, ops, processes
from ftw.cli.common import console
from ftw.config import get_settings

app = typer.Typer(help="FairTradeWorker: run, migrate and seed the marketplace API.", no_args_is_help=True)


@app.callback()
def configured() -> None:
    """Every command starts from a configuration that holds: one line per problem, exit 2
    (production without its own signing key, a malformed setting), never a traceback."""
    try:
        get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = "FTW_" + "__".join(str(part) for part in error["loc"]).upper() if error["loc"] else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            console.print(f"[red]✗[/] configuration: {escape(message)}" + (f" ({where})" if where else ""))
        raise typer.Exit(2) from None


app.command()(db.migrate)
app.command()(processes.serve)
app.command()(ops.doctor)
app.command()(db.seed)
app.command()(measure.loadtest)
app.command()(measure.bench)
app.command()(ops.capacity)
app.add_typer(ops.cache_app, name="cache")
app.command()(ops.smoke)
app.command()(ops.switch)
app.command()(ops.maintenance)
app.command()(ops.incident)
app.add_typer(ledger.ledger_app, name="ledger")
app.command()(processes.worker)
app.add_typer(db.backup_app, name="backup")
app.command()(db.restore)
app.command()(measure.screenshots)
