"""The research lab: BEIR evaluation harness, significance tests, fusion tuning, held-out sets, shared-data training."""
