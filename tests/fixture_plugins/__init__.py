"""Plugins used by the tests, registered by module rather than installed."""
