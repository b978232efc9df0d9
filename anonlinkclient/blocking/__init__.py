"""Blocking with blocklib: the blocking schema, reading the data it asks for, and the block statistics."""
