"""Exception hierarchy of the platform. Messages are written for a person to act on."""

from __future__ import annotations


class KBError(Exception):
    """Base of every error the platform raises on purpose."""


class ConfigError(KBError):
    """Settings are missing or unsafe."""


class NotFoundError(KBError):
    """A named knowledge base, document or job does not exist."""


class ConflictError(KBError):
    """The thing already exists, or is busy."""


class IngestError(KBError):
    """Ingestion of one file failed; the message names the file and the reason."""


class LoaderError(IngestError):
    """A file could not be read. ``reason`` is short and actionable; ``str()`` names the file."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class UnsupportedFormatError(LoaderError):
    """No loader handles this file type."""


class EncryptedFileError(LoaderError):
    """The file is encrypted and no password opens it."""


class NeedsOCRError(LoaderError):
    """The PDF has no extractable text layer."""


class EmptyFileError(LoaderError):
    """The file has no content to index."""


class FileTooLargeError(LoaderError):
    """The file exceeds the configured size limit (or expands past it, like a zip bomb)."""


class CorruptFileError(LoaderError):
    """The file is damaged or is not what its extension claims."""


class StorageError(KBError):
    """Uploaded files could not be stored or read (disk or bucket full, storage unreachable)."""
