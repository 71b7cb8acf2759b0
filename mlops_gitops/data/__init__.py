"""Data checks before training and drift monitoring after deployment.

``read`` turns CSV, Parquet and JSON Lines files into pyarrow tables (one clear error line for a
file that is not what it claims to be); ``checks`` runs the manifest's ``data.checks`` over those
columns; ``drift`` compares production logs with the training baseline; ``alerting`` keeps the one
monitoring issue on GitHub in step with the latest drift report.
"""
