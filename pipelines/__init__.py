"""End-to-end applications built on sklstm (run with ``python -m pipelines.<name>``)."""
