"""The CDK app of the live-sessions backend: one stack, built from the session schema module.

`lambdas/` must be importable (`session_schema`): app.py and the infra tests put it on sys.path.
"""
