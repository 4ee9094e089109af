"""S3 + DynamoDB storage: the only package that talks to AWS (an import-linter contract says so).

`Store` implements every face of `popdrop.faces`; only composition roots import it.
"""

from popdrop.store.facade import Store

__all__ = ["Store"]
