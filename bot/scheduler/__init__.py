"""Follow-up scheduler: delivers due outbox rows exactly once, one scheduler per database."""
