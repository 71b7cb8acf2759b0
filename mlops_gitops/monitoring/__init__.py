"""Data checks and monitoring as flows: `validate-data`, `monitor` and the drift issue."""
