"""The event-driven engine: the network's flat arrays and the backends that step them."""
