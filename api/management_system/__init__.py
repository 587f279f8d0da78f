"""management_system."""
