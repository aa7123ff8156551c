"""The dashboard: server-rendered pages over the store, charts drawn by a local Plotly."""

from healthscore.dashboard._routes import router

__all__ = ["router"]
