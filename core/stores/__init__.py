"""Search data behind protocols (``core.stores.base``) with FAISS, PostgreSQL and Milvus backends."""
