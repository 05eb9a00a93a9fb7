"""kaon: reproducible machine learning: versioned data, trained models with provenance, endpoints."""

__version__ = "0.1.0"
__all__ = ["__version__"]
