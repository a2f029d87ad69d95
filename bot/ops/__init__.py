"""The operator's side: the HTTP port, metrics, service health, operator alerts,
leadership and replicas, logging."""
