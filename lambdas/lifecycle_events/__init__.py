"""The lifecycle events function: the table's change stream in, EventBridge events out (lifecycle.md's
events, declared in session_schema/lifecycle.py). `mapping` turns one stream record into its events,
`publisher` puts them on the bus, `app` is the handler Lambda's event source mapping invokes, `redrive`
reads the batches that went to the dead-letter queue back from the stream."""
