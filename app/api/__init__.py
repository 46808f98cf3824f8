"""The FastAPI service: thin routers over ingestion, retrieval and generation."""
