"""Jobs: what homeowners post, with their estimate and photos."""
