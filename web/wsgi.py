"""WSGI entry point for gunicorn: `gunicorn web.wsgi:app` (configuration from the environment)."""

from core.config import load_settings
from core.logs import configure_logging
from web.app import create_app

settings = load_settings(needs_jwt_secret=True)
configure_logging(settings.log_format, settings.log_level)
app = create_app(settings)
