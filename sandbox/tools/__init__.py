"""Contributor and CI tools: lint, docs, scaffold, contract, and the request that reaches a case."""
