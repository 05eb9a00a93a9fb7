"""The REST API (FastAPI): routes per resource, one error mapping, bearer-token auth."""
