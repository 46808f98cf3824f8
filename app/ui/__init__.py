"""The Streamlit UI: an HTTP client of the API only (it imports nothing else from the repository)."""
