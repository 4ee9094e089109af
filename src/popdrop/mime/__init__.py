"""MIME: a message's parts. `ranges` finds each part's byte range in the stored object (POP4's MIME
and PART, docs/pop4.md), numbering parts as IMAP does (RFC 3501 §6.4.5), so every module of this
package that names a part means the same one."""
