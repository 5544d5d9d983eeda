"""The one session schema: records, keys, IDs, statuses, settings, the codec and the store."""
