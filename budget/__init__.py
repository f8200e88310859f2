"""Cost governance: price the planned stack in TZS before every update, and fail closed.

Catalog (USD list prices with sources) -> rules (one per AWS resource type) -> estimator -> policy -> reports.
"""
