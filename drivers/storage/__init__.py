"""Image header probing (probe) and the backing-chain model (chain)."""
