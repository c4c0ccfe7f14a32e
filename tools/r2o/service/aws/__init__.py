"""The service on AWS: DynamoDB store, S3 blobs, the Batch executor, the Lambda entry points."""
