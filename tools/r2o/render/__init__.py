"""Infrastructure rendered from the manifests (Batch, CloudFormation, CodeBuild). No docker, no boto3 calls."""
