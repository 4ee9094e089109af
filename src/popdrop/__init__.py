"""popdrop: a serverless POP3 maildrop (SES -> S3 + DynamoDB -> POP3 and a REST API)."""

__version__ = "0.1.0"
