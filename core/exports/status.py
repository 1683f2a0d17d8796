"""The statuses of an export. `core.exports.state` makes every change between them; `core.tables`
declares the column's enum from them."""

from enum import StrEnum


class ExportStatus(StrEnum):
    PREPARING = "preparing"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELED = "canceled"
