"""The rules of the service: every state change enters here, commits, then notifies."""
