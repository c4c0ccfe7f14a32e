"""Descriptions of r2o components and pipelines for other workflow engines (CWL)."""
