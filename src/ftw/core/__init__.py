"""Domain-free machinery shared by every business domain."""
