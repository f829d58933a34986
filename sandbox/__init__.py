"""Staging sandbox for API Particulier and API Entreprise."""

__version__ = "0.1.0"
