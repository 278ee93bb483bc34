"""blogpod: an AI writing agent packaged as one Kubernetes Pod of cooperating containers."""

__version__ = "0.1.0"
