"""Message <-> numpy conversion, bags and datasets."""
