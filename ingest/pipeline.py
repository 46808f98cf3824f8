"""Ingestion pipeline: files → documents → chunks → vectors, committed to SQL and the search store together.

Incremental by content hash: unchanged files are skipped before parsing; a changed file replaces
exactly its own chunks; ``sync`` removes documents whose files are gone. Work is committed in
batches through the base's backend writer (``core.stores.base.IndexWriter``): one SQL transaction
swaps the chunk rows and makes the batch's search data live, so a crash at any point leaves the
two consistent (each backend says how in its module docstring).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from core.catalog import Catalog, base_ref
from core.db import ChunkRow, Database, DocumentRow, KnowledgeBase
from core.embedders import same_vector_space
from core.errors import ConfigError, LoaderError, NotFoundError
from core.settings import Settings
from core.stores.base import IndexWriter
from core.stores.registry import SearchBackends
from core.types import document_id
from ingest.base_models import BaseStages, FixedModels, ModelsForBases
from ingest.batch import Batch, NewDoc, chunk_entries, chunk_rows, write_rows
from ingest.chunking import Chunker
from ingest.embedder import Embedder
from ingest.facts import with_facts
from ingest.jobs import FileOutcome, Heartbeat, IngestReport, JobLease, JobTracker
from ingest.loaders import StepProgress, load_path
from ingest.ocr import LazyOcrEngine
from ingest.sources import SourceFile, expand_paths

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, str], None]
"""progress(done_files, total_files, current_source)"""


@dataclass
class _Existing:
    id: str
    content_hash: str
    status: str
    file_hash: str | None
    groups: list[str]
    tags: list[str]


class IngestionPipeline:
    """Holds the stages and writes their output. Each base is chunked and embedded with the model it
    records (``models``; without it, ``embedder`` and ``chunker`` serve every base). Example::

    pipeline = IngestionPipeline(settings, db, embedder, chunker)
    report = pipeline.ingest("handbooks", [Path("docs/")], groups=["hr"], sync=True)
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        embedder: Embedder,
        chunker: Chunker,
        backends: SearchBackends | None = None,
        models: ModelsForBases | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.embedder = embedder
        self.chunker = chunker
        self.models: ModelsForBases = models or FixedModels(embedder, chunker)
        self.backends = backends or SearchBackends(settings, db)
        self.catalog = Catalog(db, self.backends)
        self.jobs = JobTracker(db, settings.job_lease_seconds)
        self.embed_buffer = max(settings.embedding_batch_size * 4, 64)
        self.ocr = LazyOcrEngine(settings.ocr_device)

    # ------------------------------------------------------------------ public
    def ingest(
        self,
        kb_name: str,
        paths: list[Path],
        *,
        groups: list[str] | None = None,
        tags: list[str] | None = None,
        sync: bool = False,
        progress: ProgressFn | None = None,
        lease: JobLease | None = None,
        files: list[SourceFile] | None = None,
    ) -> IngestReport:
        """Ingest files and folders into ``kb_name``; returns what happened to each file.

        ``lease`` is the job attempt this run belongs to (``ingest.worker``); without one the run
        records a job of its own. ``files`` (instead of ``paths``) gives each file's citation source
        explicitly, e.g. to re-ingest a document under the source it already has."""
        kb = self.catalog.get(kb_name)
        files = files if files is not None else expand_paths(paths)
        if lease is None:
            lease = self._own_job(kb.id, files, groups, tags, sync)
            try:
                with Heartbeat(self.jobs, lease):
                    return self.ingest(
                        kb_name,
                        [],
                        groups=groups,
                        tags=tags,
                        sync=sync,
                        progress=progress,
                        lease=lease,
                        files=files,
                    )
            except Exception as exc:
                self.jobs.fail(lease, exc)
                raise
        report = IngestReport(job_id=lease.job_id)
        stages = self._stages(kb)
        with self.backends.get(kb.backend).writer(base_ref(kb, stages.embedder.dim)) as writer:
            self.jobs.set_total(lease, len(files))
            groups, tags = sorted(set(groups or [])), sorted(set(tags or []))
            self._run(kb, stages, writer, files, groups, tags, sync, report, progress, lease)
            self.jobs.finish(lease, report)
        return report

    def _own_job(
        self,
        kb_id: int,
        files: list[SourceFile],
        groups: list[str] | None,
        tags: list[str] | None,
        sync: bool,
    ) -> JobLease:
        """A claimed job row for a direct call, with inputs that let a worker finish it if we die."""
        inputs = {
            "files": [{"path": str(f.path), "source": f.source} for f in files],
            "groups": groups or [],
            "tags": tags or [],
            "sync": sync,
        }
        job_id = self.jobs.create(kb_id, len(files), inputs=inputs)
        lease = self.jobs.claim(job_id)
        assert lease is not None  # nobody else knows the id yet
        return lease

    def delete_document(self, doc_id: str, lease: JobLease | None = None) -> DocumentRow:
        """Remove one document: its vectors, chunk rows and row, atomically."""
        with self.db.session() as session:
            row = session.get(DocumentRow, doc_id)
            if row is None:
                raise NotFoundError(
                    f"document {doc_id} does not exist; list them with `kb docs list --kb NAME`"
                )
            kb = session.get(KnowledgeBase, row.kb_id)
        assert kb is not None
        with self.backends.get(kb.backend).writer(base_ref(kb)) as writer:
            batch = Batch(remove_doc_ids={doc_id}, delete_doc_ids={doc_id})
            self._commit(kb, None, writer, batch, report=None, lease=lease)
        return row

    # ----------------------------------------------------------------- internals
    def _stages(self, kb: KnowledgeBase) -> BaseStages:
        """The base's own embedder and chunker; a clear error when they cannot serve its vectors."""
        stages = self.models.for_base(kb)
        if kb.dim and kb.embedding_model and not same_vector_space(kb.embedding_model, stages.embedder.name):
            raise ConfigError(
                f"knowledge base {kb.name!r} was embedded with {kb.embedding_model!r} but the embedder "
                f"here is {stages.embedder.name!r}; use the same model or re-embed the base "
                f"(`kb bases reembed {kb.name} --embedder NAME`)"
            )
        return stages

    @staticmethod
    def _record_model(kb_row: KnowledgeBase, embedder: Embedder) -> None:
        """With its first vectors a base records the model that made them: the one it names, or (a
        fixed embedder outside the registry, e.g. a test fake) that model, as a custom one."""
        if not same_vector_space(kb_row.embedding_model or embedder.name, embedder.name):
            kb_row.embedder = ""
            kb_row.embedding_model = ""
        kb_row.embedding_model = kb_row.embedding_model or embedder.name
        kb_row.dim = embedder.dim

    def _existing(self, kb_id: int) -> dict[str, list[_Existing]]:
        by_path: dict[str, list[_Existing]] = {}
        with self.db.session() as session:
            rows = session.execute(
                select(
                    DocumentRow.id,
                    DocumentRow.path,
                    DocumentRow.content_hash,
                    DocumentRow.status,
                    DocumentRow.meta,
                    DocumentRow.access_groups,
                    DocumentRow.scenario_tags,
                ).where(DocumentRow.kb_id == kb_id)
            ).all()
        for rid, path, chash, status, meta, grp, tg in rows:
            by_path.setdefault(path, []).append(
                _Existing(rid, chash, status, (meta or {}).get("file_hash"), list(grp), list(tg))
            )
        return by_path

    def _run(
        self,
        kb: KnowledgeBase,
        stages: BaseStages,
        writer: IndexWriter,
        files: list[SourceFile],
        groups: list[str],
        tags: list[str],
        sync: bool,
        report: IngestReport,
        progress: ProgressFn | None,
        lease: JobLease,
    ) -> None:
        existing = self._existing(kb.id)
        batch = Batch(groups=groups, tags=tags)
        last_update = time.monotonic()
        for done, file in enumerate(files):
            if progress:
                progress(done, len(files), file.source)
            echo = (lambda text, n=done: progress(n, len(files), text)) if progress else None
            steps = self.jobs.file_steps(lease, file.source, echo)
            self._ingest_file(kb, stages.chunker, file, existing.get(file.source, []), batch, report, steps)
            if batch.chunk_count - batch.embedded >= self.embed_buffer:
                self._embed_pending(kb, stages.embedder, batch)
            if batch.chunk_count >= self.settings.commit_every_chunks:
                kb = self._commit(kb, stages.embedder, writer, batch, report, lease)
                batch = Batch(groups=groups, tags=tags)
            if time.monotonic() - last_update > 0.5:
                self.jobs.update(lease, report, done + 1)
                last_update = time.monotonic()
        if sync:
            seen = {f.source for f in files}
            for path, docs in existing.items():
                if path not in seen:
                    ids = {d.id for d in docs}
                    batch.remove_doc_ids |= ids
                    batch.delete_doc_ids |= ids
                    report.record(FileOutcome(path, "deleted", documents=len(ids)))
        self._commit(kb, stages.embedder, writer, batch, report, lease)
        if progress:
            progress(len(files), len(files), "")

    def _ingest_file(
        self,
        kb: KnowledgeBase,
        chunker: Chunker,
        file: SourceFile,
        old: list[_Existing],
        batch: Batch,
        report: IngestReport,
        steps: StepProgress | None = None,
    ) -> None:
        file_hash = file.sha256()
        ready = [d for d in old if d.status == "ready"]
        if ready and len(ready) == len(old) and all(d.file_hash == file_hash for d in old):
            changed_meta = [d for d in old if d.groups != batch.groups or d.tags != batch.tags]
            batch.meta_updates += [(d.id, file_hash) for d in changed_meta]
            outcome = "updated" if changed_meta else "unchanged"
            report.record(FileOutcome(file.source, outcome, documents=len(old)))
            return
        try:
            docs = load_path(
                file.path,
                max_bytes=self.settings.max_file_bytes,
                max_expanded_bytes=self.settings.max_expanded_bytes,
                source=file.source,
                ocr=self.ocr if self.settings.ocr and kb.ocr_enabled else None,
                ocr_dpi=self.settings.ocr_dpi,
                progress=steps,
            )
            docs = [with_facts(d, file.path) for d in docs]
            new_docs = [(d, chunker.split(d)) for d in docs]
            new_docs = [(d, c) for d, c in new_docs if c]
            if not new_docs:
                raise LoaderError(file.source, "no text to index (the file is empty or has no readable text)")
        except LoaderError as exc:
            self._fail(kb, file, file_hash, old, exc.reason, batch, report)
            return
        except Exception as exc:  # a parser bug must not sink the batch: record it on the file
            log.exception("unexpected error while loading %s", file.source)
            self._fail(
                kb,
                file,
                file_hash,
                old,
                f"could not read the file ({type(exc).__name__}: {exc})",
                batch,
                report,
            )
            return
        old_by_id = {d.id: d for d in old}
        chunks_added = 0
        for doc, chunks in new_docs:
            doc_id = document_id(kb.name, doc.source)
            prev = old_by_id.pop(doc_id, None)
            if prev and prev.status == "ready" and prev.content_hash == doc.content_hash:
                batch.meta_updates.append((doc_id, file_hash))
                continue
            if prev:
                batch.remove_doc_ids.add(doc_id)
            batch.new_docs.append(NewDoc(doc, file, file_hash, chunks, 0))
            chunks_added += len(chunks)
        gone = set(old_by_id)  # records that vanished from a multi-record file
        batch.remove_doc_ids |= gone
        batch.delete_doc_ids |= gone
        outcome = "updated" if old else "added"
        report.record(FileOutcome(file.source, outcome, documents=len(new_docs), chunks=chunks_added))

    def _fail(
        self,
        kb: KnowledgeBase,
        file: SourceFile,
        file_hash: str,
        old: list[_Existing],
        reason: str,
        batch: Batch,
        report: IngestReport,
    ) -> None:
        report.record(FileOutcome(file.source, "failed", error=reason))
        if any(d.status == "ready" for d in old):
            return  # keep the last good version searchable; the job records why the update failed
        batch.failed_rows.append(
            {
                "id": document_id(kb.name, file.source),
                "source": file.source,
                "path": file.source,
                "location": file.location(),
                "error": reason,
                "file_hash": file_hash,
                "size": file.size,
            }
        )

    def _embed_pending(self, kb: KnowledgeBase, embedder: Embedder | None, batch: Batch) -> None:
        texts = batch.pending_texts()
        if texts:
            assert embedder is not None, "only a batch without new chunks is committed without an embedder"
            vectors = embedder.embed(texts)
            if kb.dim and vectors.shape[1] != kb.dim:
                raise ConfigError(
                    f"knowledge base {kb.name!r} holds {kb.dim}-dimensional vectors "
                    f"({kb.embedding_model}) but {embedder.name!r} gives {vectors.shape[1]}; "
                    f"nothing was written. Re-embed the base (`kb bases reembed {kb.name} --embedder NAME`)"
                )
            batch.vectors.append(vectors)
            batch.embedded += len(texts)

    def _commit(
        self,
        kb: KnowledgeBase,
        embedder: Embedder | None,
        writer: IndexWriter,
        batch: Batch,
        report: IngestReport | None,
        lease: JobLease | None,
    ) -> KnowledgeBase:
        """Write the batch: chunk rows and search data in one SQL transaction (see IndexWriter),
        fenced: the transaction first locks the job row and checks this attempt still holds it."""
        if batch.empty():
            return kb
        self._embed_pending(kb, embedder, batch)
        with self.db.session() as session:
            if lease is not None:
                self.jobs.fence(session, lease)
            kb_row = session.get(KnowledgeBase, kb.id)
            assert kb_row is not None
            old_vids = (
                session.scalars(
                    select(ChunkRow.vector_id).where(ChunkRow.document_id.in_(batch.remove_doc_ids))
                ).all()
                if batch.remove_doc_ids
                else []
            )
            rows, _ = chunk_rows(kb_row, batch)
            metas = write_rows(session, kb_row, batch, rows)
            session.flush()
            writer.delete(old_vids)
            writer.upsert(chunk_entries(batch, rows, metas))
            for doc_id, _hash in batch.meta_updates:
                writer.set_access(doc_id, batch.groups, batch.tags)
            if embedder is not None and batch.embedded and not kb_row.dim:
                self._record_model(kb_row, embedder)
            writer.stage(session, kb_row)
        writer.committed()
        if report is not None and lease is not None:
            self.jobs.update(lease, report, len(report.files))
        return kb_row
