"""What each consumer may ask of storage: one small, typed face per consumer.

A face is a `typing.Protocol` with the value types it speaks in; `popdrop.store.Store` implements
every face, and each consumer imports only its own (import-linter contracts in pyproject.toml):

- `pop3`: the POP3 daemon (`popd/`): credentials, the maildrop lease, the snapshot, message reads,
  the commit;
- `ingest`: mail in (`popdrop.ingest`, the SMTP stand-in, `popdrop deliver`): the incoming prefix,
  the directory of mailboxes and routes, the exactly-once ingest record, filing;
- `admin`: administration (the CLI, the REST API's admin routes): mailboxes, credentials, routes,
  policies, quarantine, garbage collection;
- `api`: the REST API's reads.

`faults` holds the closed set of errors every face raises. Only the composition roots
(`popd/cli.py`, `popd/devstack.py`, `functions/*/app.py`, `popdrop.api.deps`) build a `Store`.
"""
