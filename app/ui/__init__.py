"""The Streamlit UI: an HTTP client of the API only (it never imports ingest/retrieval/generation)."""
