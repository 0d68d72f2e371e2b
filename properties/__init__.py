"""The plug-in's YAML settings (RecBole property files): overall.yaml, model/<Model>.yaml, dataset/<dataset>.yaml.

This folder is the package ``recbole_poserec.properties`` of the installed plug-in (``pyproject.toml``,
``package-dir``), found with ``importlib.resources`` from a checkout and from a wheel alike.
"""
