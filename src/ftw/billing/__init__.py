"""Billing: charges, the ledger, balances, payouts and invoices."""
