"""Events to the clinic's systems: the outbox (written with each change), the pull feed, webhooks and the
background worker that delivers them."""
