"""Load tests: Locust journeys of the three roles, named profiles, and the runner's reports."""
