"""The STARS infrastructure: one ComponentResource per tier, the typed stack config, the mocked planner."""
