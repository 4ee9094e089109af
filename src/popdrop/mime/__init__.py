"""A stored message seen as MIME (RFC 2045-2049), its parts numbered as IMAP numbers them (RFC 3501
§6.4.5), so every module of this package that names a part means the same one: `ranges` finds each
part's byte range in the stored object (POP4's MIME and PART, docs/pop4.md); `structure` decodes
its headers and one part's content, and `html` makes an HTML body safe to show (the REST API).
Nothing here does IO."""
