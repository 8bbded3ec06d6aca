"""Runnable examples of tapegrad."""
