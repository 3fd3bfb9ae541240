from enum import StrEnum

class ReputationStatus(StrEnum):
    AT_RISK = "at_risk"
    HEALTHY = "healthy"
    INSUFFICIENT_VOLUME = "insufficient_volume"
    WARNING = "warning"

    def __str__(self) -> str:
        return str(self.value)
