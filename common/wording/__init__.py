"""What each feature says: one module per feature holds its Thai sentences and cards.

The convention (docs/architecture.md, "Wording"): storage returns and stores data
(rows, dataclasses, numbers, status codes); the Thai a citizen or an official reads
is written here, by the feature that says it, as functions from data to text or
reply cards (common/replies.py). Actions, use-cases, connectors and the scheduler
render what storage returns with these functions. Storage calls them only for a
notice it queues in the same transaction as the change the notice reports
(an outbox row, DESIGN.md), so that the change and its notice commit together.

Ground floor rules apply: nothing of the project is imported except common/, and the
code stays Python 3.10-compatible. Functions take plain values or any object with
the attributes they read (storage's rows fit), never a storage import.
tests/test_architecture.py fails when storage builds a Thai sentence itself.
"""
