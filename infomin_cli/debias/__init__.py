"""Removing attribute information: projections fitted against the slice loss."""
