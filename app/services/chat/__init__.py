"""Chat over knowledge bases: read access, answering, conversations and feedback, one module each."""
