"""pyvirsh: a virsh-compatible virtualization shell with a daemonless QEMU driver."""

__version__ = "0.1.0"
