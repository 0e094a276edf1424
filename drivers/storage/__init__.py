"""Image header probing and the backing-chain model."""

from .chain import MAX_DEPTH, ChainLayer, probe_chain
from .probe import FORMATS, ImageHeader, detect_format, read_header

__all__ = ["FORMATS", "MAX_DEPTH", "ChainLayer", "ImageHeader", "detect_format", "probe_chain",
           "read_header"]
