"""AWS Batch job states (a module without AWS imports, so the CLI can offer them without loading boto3)."""

STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
BEFORE_START = ("SUBMITTED", "PENDING", "RUNNABLE")
FINISHED = ("SUCCEEDED", "FAILED")
