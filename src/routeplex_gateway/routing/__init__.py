"""Routing: the model catalog and how a request finds the deployment that serves it."""
