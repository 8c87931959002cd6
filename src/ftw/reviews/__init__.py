"""Reviews: a homeowner's rating of the contractor after a completed job."""
