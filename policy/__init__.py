"""The budget and the security baseline as a Pulumi CrossGuard policy pack (``pulumi_policy``).

``__main__.py`` is the pack the CLI runs; ``pack`` lists its policies; ``budget_policy`` prices the
engine's resources with the budget package; ``baseline_policies`` runs each concern of the security
baseline; ``resources`` turns what the engine reports into what those two read; ``configure`` writes the
pack config for one of this project's stacks; ``bundle`` makes a self-contained copy to publish.
"""
