"""Outbound HTTP of the control plane: webhook deliveries and their address checks."""
