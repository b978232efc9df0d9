"""Linking parties' CLKs locally with anonlink, as ``anonlink find-similarity`` does."""
