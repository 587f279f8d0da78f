"""management_reviews."""
