"""Analytics: read-mostly figures for contractors, operators and the platform."""
