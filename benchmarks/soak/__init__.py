"""A soak of the executor: thousands of tasks, faults above and below botocore's retries, restarts."""
