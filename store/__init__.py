"""Storage: the one owner of the schema (versioned migrations) and the queries on it."""
