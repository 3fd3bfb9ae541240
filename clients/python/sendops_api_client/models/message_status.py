from enum import StrEnum

class MessageStatus(StrEnum):
    BOUNCE = "Bounce"
    CLICK = "Click"
    COMPLAINT = "Complaint"
    DELIVERY = "Delivery"
    DELIVERYDELAY = "DeliveryDelay"
    OPEN = "Open"
    REJECT = "Reject"
    SEND = "Send"

    def __str__(self) -> str:
        return str(self.value)
