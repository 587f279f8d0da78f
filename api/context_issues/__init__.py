"""context_issues."""
