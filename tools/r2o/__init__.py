"""r2o: research to operations for containerized scientific components."""

__version__ = "0.1.0"
