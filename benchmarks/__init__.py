"""Benchmarks: batch-router against the amazon provider's AwsBatchExecutor on a fake, slow, rate-limited
AWS Batch. Run with ``python -m benchmarks``; results and method are in docs/performance.md.
"""
