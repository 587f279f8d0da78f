"""The `parkcarbon` command line."""
