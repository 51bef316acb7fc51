"""Partner adapters: one module per partner system, one base class for all."""

from outsource_plugin.adapters.base import (
    Capability,
    ChangeBatch,
    ChangeKind,
    DeliveryResult,
    Outbound,
    PartnerAdapter,
    RemoteChange,
)
from outsource_plugin.adapters.registry import adapter_class, adapter_names

__all__ = [
    "Capability",
    "ChangeBatch",
    "ChangeKind",
    "DeliveryResult",
    "Outbound",
    "PartnerAdapter",
    "RemoteChange",
    "adapter_class",
    "adapter_names",
]
