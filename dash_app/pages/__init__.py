"""One module per page; each exposes `register(app)` (page route + its callbacks on that app)."""
