"""The Anonlink Entity Service: HTTP session, REST client, object store, uploads and run results."""
