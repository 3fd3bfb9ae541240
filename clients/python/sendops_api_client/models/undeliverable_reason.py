from enum import StrEnum

class UndeliverableReason(StrEnum):
    COMPLAINT = "complaint"
    PERMANENT_BOUNCE = "permanent_bounce"
    REJECTED = "rejected"
    REPEATED_TRANSIENT = "repeated_transient"
    SOFT_BOUNCE_ACCUMULATION = "soft_bounce_accumulation"
    UNDETERMINED = "undetermined"

    def __str__(self) -> str:
        return str(self.value)
