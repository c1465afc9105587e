"""mixfit: Bayesian mixed-effects models from CSV files, fitted with Stan."""

__version__ = "0.1.0"
