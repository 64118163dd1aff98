"""Dash explorer over a patentgraph workspace: industry chains → technology node → ranked firms → firm."""

from dash_app.app import create_app, serve

__all__ = ["create_app", "serve"]
