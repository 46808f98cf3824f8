"""What the API's routers and the ``kb`` command call: accounts, chat, documents, jobs, audit, uploads."""
