"""Packaged data of the accounting domain: factor catalogue, GWP tables, parameters, regions.

Each CSV row carries its own source; the loaders in ``accounting`` validate them on load.
"""
