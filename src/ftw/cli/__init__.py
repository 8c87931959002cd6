"""The `ftw` command: one module per command group, registered here in the order `ftw --help`
lists them."""

from __future__ import annotations

import typer

from ftw.cli import db, ledger, measure, ops, processes

app = typer.Typer(help="FairTradeWorker: run, migrate and seed the marketplace API.", no_args_is_help=True)
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
