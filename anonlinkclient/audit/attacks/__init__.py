"""The attacks: what someone without the secret can do with leaked CLKs and a list of values.

- :mod:`.frequency`: frequency alignment (Christen, Schnell, Vatsalan and Ranbaduge, PAKDD 2017);
- :mod:`.patterns`: pattern mining, column-wise (Christen, Vidanage, Ranbaduge and Schnell, PAKDD 2018);
- :mod:`.reidentify`: the re-identification step they share;
- :mod:`.undo`: what an attacker undoes of hardening before attacking.

Nothing here may see the secret, the keys or the true bit positions: these modules
import only NumPy, a few standard-library modules, :mod:`anonlinkclient.errors` and
:mod:`anonlinkclient.io.packed`, and the attacks get only :class:`~.model.Encodings`
(the CLKs), a :class:`~.model.Reference` (the attacker's list, cut into tokens with
the public tokeniser) and :class:`~.model.Public` (what the schema says in public).
tests/audit/test_isolation.py checks both, by reading the imports and by running the
attacks in a process where the encoder and clkhash cannot be imported.
"""
