"""Cue sounds shipped as package data (regenerate with scripts/make_sounds.py)."""
