"""`ftw ledger check`: the books re-proved."""

from __future__ import annotations

import asyncio

import typer

from ftw.cli.common import console, database_url
from ftw.config import get_settings

ledger_app = typer.Typer(help="The money ledger.", no_args_is_help=True)


@ledger_app.command("check")
def ledger_check() -> None:
    """Prove the ledger reconciles: every transaction sums to zero, no balance is negative,
    every captured payment and payout matches its entries. Exit 1 on any discrepancy."""
    from ftw.billing.ledger import reconcile

    settings = get_settings()
    report = asyncio.run(reconcile(database_url(settings), settings))
    for line in report.lines:
        console.print(line)
    raise typer.Exit(0 if report.ok else 1)
