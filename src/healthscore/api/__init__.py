"""The REST service: FastAPI over the engine and the store."""

from healthscore.api._app import create_app
from healthscore.api._service import Service, ServiceSettings

__all__ = ["Service", "ServiceSettings", "create_app"]
