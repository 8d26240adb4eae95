"""Cloud Run: a container running `adk api_server` over `agents/` (see `deploy/README.md`)."""
