"""Artifact handoff."""
