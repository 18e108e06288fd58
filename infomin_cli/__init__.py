"""infomin: audit and remove attribute information from learned representations."""

__version__ = "0.1.0"
