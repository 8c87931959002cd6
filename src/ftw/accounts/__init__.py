"""Accounts: people, their roles and plans, and their sessions."""
