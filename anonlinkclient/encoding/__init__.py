"""Encoding PII into CLKs: the linkage schema, the secret, the encoder, ``describe`` and fake PII."""
