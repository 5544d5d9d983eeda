"""The session store: the only code that talks to DynamoDB (operations, DynamoDB plumbing, legacy upgrade on
write, the migration command). Built on session_schema, which never imports it."""
