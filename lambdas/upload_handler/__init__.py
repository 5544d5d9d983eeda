"""The upload function: S3's event notifications of the artifacts bucket (session_runtime/uploads.py)."""
