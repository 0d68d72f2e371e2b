"""Reusable layers of the plug-in's models (one module per model family)."""
