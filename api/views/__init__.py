"""View models and shared plumbing of the built-in web UI (the routes live in api/routes/*web.py)."""
