"""Encoding PII into CLKs: the linkage schema, the secret, the encoder and the process pool."""
