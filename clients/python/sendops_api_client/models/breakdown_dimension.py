from enum import StrEnum

class BreakdownDimension(StrEnum):
    BOUNCE_CAUSE = "bounce_cause"
    CHANNEL = "channel"
    MAILBOX_PROVIDER = "mailbox_provider"
    RECIPIENT_DOMAIN = "recipient_domain"
    SENDING_DOMAIN = "sending_domain"
    TEMPLATE = "template"

    def __str__(self) -> str:
        return str(self.value)
