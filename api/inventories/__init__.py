"""Stored inventories: the period inventory kept as an immutable, versioned record."""
