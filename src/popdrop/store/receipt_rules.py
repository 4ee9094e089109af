"""SES's active receipt rule set: one per region and account, chosen outside any CloudFormation
resource, so the stack's custom resource (functions/ruleset/app.py) sets it through here."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3

from popdrop.faces.faults import StoreError
from popdrop.store.aws import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient


class ActiveRuleSetConflict(StoreError):
    """Another rule set is active; activating ours would silently stop its rules."""


class ReceiptRules:
    def __init__(self, ses: SESClient) -> None:
        self._ses = ses

    @classmethod
    def from_environment(cls) -> ReceiptRules:
        with aws_errors():
            return cls(boto3.session.Session().client("ses"))

    def active(self) -> str | None:
        with aws_errors():
            metadata = self._ses.describe_active_receipt_rule_set().get("Metadata") or {}
        return metadata.get("Name")

    def activate(self, name: str, *, replace_active: bool) -> str | None:
        """Make `name` the active rule set; return the one it replaced (None if none was, or it
        was already `name`). Raises ActiveRuleSetConflict when another is active and
        `replace_active` is false: its rules (mail for other domains) would stop applying."""
        current = self.active()
        if current not in (None, name) and not replace_active:
            raise ActiveRuleSetConflict(
                f"receipt rule set {current!r} is active in this region; activating {name!r} "
                "would stop its rules. Deploy with ReplaceActiveRuleSet=true to replace it, or "
                "move its rules into ours first (docs/deployment.md)"
            )
        if current != name:
            with aws_errors():
                self._ses.set_active_receipt_rule_set(RuleSetName=name)
        return None if current == name else current

    def deactivate(self, name: str) -> bool:
        """Leave no rule set active if `name` is the active one (so the stack can delete it);
        another active set is left alone. True when `name` was deactivated."""
        if self.active() != name:
            return False
        with aws_errors():
            self._ses.set_active_receipt_rule_set()  # no name: none is active
        return True
