"""Scoping: the job estimator (price range, materials, size, tier) from trade, words and region."""
