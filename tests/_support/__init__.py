"""Helpers shared by test directories."""
