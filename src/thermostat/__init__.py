"""Thermostat: keeps AWS Lambda functions warm by forecast (workflow-side package)."""

__version__ = "0.1.0"
