"""AWS Batch through boto3: deploy job definitions, submit, list, describe, cancel, read logs.

Only this package (and the CLI commands that call it) talks to AWS. Clients use boto3's standard
credential chain; ``endpoint_url`` points them at a stand-in such as a moto server.
"""
