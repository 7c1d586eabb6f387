"""Input validation and output builders, shared by REST and Socket.IO, one module per resource."""
