"""Metering: what a request cost, and the metadata record that says so."""
