"""microfactory: an operating system for made-to-order micro-factories."""

__version__ = "0.1.0"
