"""Azure's own JSON in: ``import`` a scale set, ``plan`` its next upgrade,
``explain --history`` of a real upgrade history (docs/azure.md)."""
