"""Administration: what an operator (or a mailbox's owner) does to mailboxes, their credentials,
aliases, policies and quarantine, over the admin storage face.

The `popdrop` CLI (`popd/admin.py`, `popd/ingest_admin.py`) and the REST API's routes call these
same functions, so both check the same things and change storage the same way; each turns
`AdminError` into its own reply (the CLI's exit status 2, the API's problem documents).
"""
