"""The one session schema: records, keys, IDs, statuses, settings, the codec, routes and Lambda declarations."""
