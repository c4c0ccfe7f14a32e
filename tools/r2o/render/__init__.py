"""Infrastructure rendered from the manifests: Batch, CloudFormation, CodeBuild (no docker, no boto3)."""
