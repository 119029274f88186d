"""What an operator sees of the control plane: JSON log lines and CloudWatch metrics (EMF).

A leaf of ``chalicelib``: it imports nothing of the control plane, and any layer but
the domain (which does no I/O) may use it.
"""
