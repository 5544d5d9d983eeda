"""The WebSocket API's one Lambda: `$connect`, `$disconnect`, `$default` and every action (`app.handler`),
and the scheduled sweep of speakerless sessions (`sweep.handler`)."""
