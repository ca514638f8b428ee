"""Analyses built on the source model and shared by several rules (computed once per file)."""
