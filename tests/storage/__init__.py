"""Tests of routeplex_gateway.storage, each run on SQLite and on PostgreSQL."""
