"""HTTP routes that belong to no domain package."""
