"""Pipelines: DAGs of components over a date range, run locally or as AWS Batch array jobs."""
