"""The embedded moto server's own process: `python -m local.dynamodb.moto_process FD [PATCH ...]` (started by
local/dynamodb/backend.py's EmbeddedMoto only, which bound the listening socket FD). Prints `ready` once it serves,
and serves until its stdin closes.

A presigned POST upload that its policy does not allow is refused as S3 refuses it (local/s3); every
request is applied one at a time (backend._serialized: moto's backends are not thread-safe), a
transaction backs up only the items it names (moto_transactions.py), a Query reads only its partition
(moto_query.py), results are answered as plain JSON (moto_json.py), a client's connection stays open between
its requests (keep_alive.py), and with `--aws-limits` each partition and item serves at most DynamoDB's units per
second (moto_throttle.py).
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys

from moto.server import ThreadedMotoServer

from local.s3 import bucket_of, enforce_post_policy, known_secret_keys, notify_from_environment

from .backend import _serialized
from .keep_alive import KeepAliveRequestHandler
from .moto_idempotency import honour_client_request_tokens
from .moto_json import answer_with_json
from .moto_memory import collect_less_often, forget_model_instances
from .moto_query import speed_up_queries
from .moto_streams import forget_used_shard_iterators, stream_one_record_per_update
from .moto_throttle import throttle_from_environment
from .moto_transactions import back_up_only_touched_items


class SerializedMotoServer(ThreadedMotoServer):
    fd: int

    def _server_entry(self) -> None:  # ThreadedMotoServer's, on the given socket, with the app behind one lock
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        # Uploads are judged by their signed policy before moto stores them (local/s3), outside the lock.
        # Then each object stored is told to the upload function, as S3's event notification (local/s3).
        served = _serialized(DomainDispatcherApplication(create_backend_app))
        app = enforce_post_policy(notify_from_environment(served, os.environ, bucket_of), known_secret_keys)
        # The stack's socket, listening with a backlog of 1024 (werkzeug's 128 drops the SYNs of dozens of
        # execution environments connecting at once).
        # Connections kept open between requests (keep_alive.py): werkzeug closes each one after its answer.
        self._server = make_server("127.0.0.1", 0, app, True, request_handler=KeepAliveRequestHandler, fd=self.fd)
        self._server_ready_event.set()
        self._server.serve_forever()


def main(argv: list[str]) -> None:
    fd, patches = int(argv[0]), argv[1:]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the terminal's group; the stack stops us
    # werkzeug logs every request moto serves at INFO: noise next to the gateway's own access log.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    forget_model_instances()  # moto would keep every Item it ever made, for a dashboard the stack never asks for
    back_up_only_touched_items()  # every join is a transaction: keep its cost off the table's size
    honour_client_request_tokens()  # a retried, committed transaction succeeds without applying again
    forget_used_shard_iterators()  # the stream poller's GetRecords would otherwise pile up iterators
    stream_one_record_per_update()  # an UpdateItem creating its item: one INSERT, not a keys-alone one before it
    speed_up_queries()  # every fan-out is a Query: keep its cost off the table's size too
    answer_with_json()  # and off moto's generic serializer (slow per item)
    throttle_from_environment(os.environ)  # `serve --aws-limits`: per-partition and per-item throughput
    for name in patches:
        module, _, function = name.rpartition(".")
        getattr(importlib.import_module(module), function)()
    server = SerializedMotoServer(verbose=False)
    server.fd = fd
    server.start()
    collect_less_often()
    print("ready", flush=True)
    sys.stdin.buffer.read()  # returns at EOF: the stack stopped, or its process is gone
    # The tables live in this process's memory only: nothing to save. Exit at once: stopping the server (half a
    # second of polling) and the interpreter's teardown of moto's modules (another second) would only add to
    # every stack's stop.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
