"""Shapes of what the service answers and emits, one module per resource, for the API documents."""
