"""A stored message seen as MIME (RFC 2045-2049): its headers decoded, its parts numbered as IMAP
numbers them, one part's content decoded, its HTML body made safe to show. Python's `email`
package parses; nothing here does IO."""
