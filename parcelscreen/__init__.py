"""The ``parcelscreen`` command: the one place that wires contracts, screening, training and
serving together."""
