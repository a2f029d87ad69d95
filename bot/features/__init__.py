"""Features on top of the running service: insight (backtests, baselines), CoinGlass
history, digests, charts, outgoing webhooks, declared broadcasts."""
