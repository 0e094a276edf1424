"""Image header probing and the backing-chain model."""
