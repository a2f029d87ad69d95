"""The running service: composition (app.build), the evaluation engine, the scheduler,
delivery, the live market view, the one clock and the watchdog."""
