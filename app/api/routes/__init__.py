"""The API's routers, one module per area; each only translates HTTP to service calls and back."""
