"""Validation layer of the stability workbench: one case per claim of the papers."""
