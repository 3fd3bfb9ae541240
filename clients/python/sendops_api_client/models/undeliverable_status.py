from enum import StrEnum

class UndeliverableStatus(StrEnum):
    ALL = "all"
    EXCLUDED = "excluded"
    LISTED = "listed"

    def __str__(self) -> str:
        return str(self.value)
