"""Knowledge bases as admins manage them: create, change, move, re-embed and delete, and the files
uploaded into them; every change that takes time becomes a job."""

from __future__ import annotations

from typing import BinaryIO

from app.services.chat.access import ReadAccess
from app.services.jobs import JobService
from app.services.uploads import Staged, UploadStore
from core.catalog import Catalog
from core.db import KnowledgeBase, new_id
from core.errors import ConflictError
from core.settings import Settings
from core.stores.base import BlobStore
from core.stores.registry import SearchBackends
from core.types import Principal

BaseRow = dict[str, object]


class KnowledgeBaseService:
    """What the API does to knowledge bases; it never answers for who is allowed (the routes check
    roles, ``ReadAccess`` checks reading)."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        backends: SearchBackends,
        blobs: BlobStore,
        jobs: JobService,
        access: ReadAccess,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.backends = backends
        self.blobs = blobs
        self.jobs = jobs
        self.access = access

    def get(self, name: str) -> KnowledgeBase:
        """The base named ``name`` (NotFoundError when there is none)."""
        return self.catalog.get(name)

    def row(self, name: str) -> BaseRow:
        """The base's listing row: settings, backend, embedder and counts."""
        return next(r for r in self.catalog.list() if r["name"] == name)

    def readable(self, principal: Principal) -> list[BaseRow]:
        """The listing rows of the bases ``principal`` may read."""
        readable = self.access.readable_bases(principal)
        return [r for r in self.catalog.list() if r["name"] in readable]

    def create(
        self,
        name: str,
        scenario: str,
        description: str,
        *,
        read_groups: list[str],
        ocr: bool,
        backend: str | None,
        embedder: str | None,
    ) -> KnowledgeBase:
        """A new, empty base."""
        return self.catalog.create(
            name,
            scenario,
            description,
            read_groups=read_groups,
            ocr=ocr,
            backend=backend,
            embedder=embedder,
        )

    def update(
        self,
        name: str,
        *,
        description: str | None,
        scenario: str | None,
        read_groups: list[str] | None,
        ocr: bool | None,
    ) -> KnowledgeBase:
        """Change a base's settings (None leaves one as it is)."""
        return self.catalog.update(
            name, description=description, scenario=scenario, read_groups=read_groups, ocr=ocr
        )

    def migrate(self, name: str, to: str, requested_by: str) -> tuple[KnowledgeBase, str]:
        """Start re-indexing the base into the backend ``to``; the base as it was and the job id."""
        kb = self.catalog.get(name)
        if kb.backend == to:
            raise ConflictError(f"knowledge base {name!r} already uses the {to} backend")
        self.backends.get(to)  # a backend that cannot work here fails now, by name
        return kb, self.jobs.submit("migrate_base", kb.id, {"migrate_to": to}, requested_by)

    def reembed(self, name: str, embedder: str, requested_by: str) -> tuple[KnowledgeBase, str]:
        """Start re-embedding the base with ``embedder``; the base as it was and the job id."""
        kb = self.catalog.get(name)
        return kb, self.jobs.submit("reembed_base", kb.id, {"reembed_to": embedder}, requested_by)

    def delete(self, name: str) -> None:
        """Delete the base with its documents, search data and uploaded files."""
        kb = self.catalog.get(name)
        self.catalog.delete(name)
        self.blobs.delete_prefix(str(kb.id))

    def upload(
        self,
        kb: KnowledgeBase,
        files: list[tuple[str | None, BinaryIO]],
        groups: list[str],
        tags: list[str],
        requested_by: str,
    ) -> tuple[str, list[Staged]]:
        """Store the files (all or none; UploadRejected names the first refused) and start the job
        that ingests them; the job id and the files as stored."""
        store = UploadStore(self.settings)
        staging, staged = store.stage(files)
        job_id = new_id()
        keys = store.commit(self.blobs, kb.id, job_id, staging, staged)
        inputs = {
            "files": [{"key": k, "source": s.filename} for k, s in zip(keys, staged, strict=True)],
            "groups": groups,
            "tags": sorted(set(tags)),
        }
        self.jobs.submit("ingest", kb.id, inputs, requested_by, len(keys), job_id=job_id)
        return job_id, staged
