import { readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomically } from '../files/atomic-write.js';
import { digestOf, parseDigest, type DigestAlgorithm } from './digest.js';
import { ArtifactError } from './errors.js';

/**
 * Content-addressed files under `<stateDir>/blobs/<algorithm>/<hex>`: manifests and layers by
 * digest, checked again on every read. Tag resolutions live under `<stateDir>/tags/` when kept.
 */
export class ContentStore {
  constructor(readonly stateDir: string) {}

  private locate(digest: string): { file: string; algorithm: DigestAlgorithm } {
    const parsed = parseDigest(digest);
    if (typeof parsed === 'string') throw new ArtifactError('InvalidArtifact', `digest "${digest}": ${parsed}`);
    return { file: path.join(this.stateDir, 'blobs', parsed.algorithm, parsed.hex), algorithm: parsed.algorithm };
  }

  private tagPath(reference: string): string {
    return path.join(this.stateDir, 'tags', digestOf(reference).slice('sha256:'.length));
  }

  /** The stored content, or undefined when absent, larger than `maxBytes`, or corrupt (a corrupt file is removed). */
  async get(digest: string, maxBytes: number): Promise<Buffer | undefined> {
    const { file, algorithm } = this.locate(digest);
    try {
      if ((await stat(file)).size > maxBytes) return undefined;
      const bytes = await readFile(file);
      if (digestOf(bytes, algorithm) === digest) return bytes;
      await unlink(file).catch(() => undefined);
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Stores verified content; refuses bytes that do not match the digest. */
  async put(digest: string, bytes: Buffer): Promise<void> {
    const { file, algorithm } = this.locate(digest);
    if (digestOf(bytes, algorithm) !== digest) {
      throw new ArtifactError('DigestMismatch', `refusing to store content under ${digest}: it has another digest`);
    }
    await writeFileAtomically(file, bytes);
  }

  /** The digest a tag last resolved to, as persisted by `putTag`. */
  async getTag(reference: string): Promise<{ digest: string; resolvedAt: string } | undefined> {
    try {
      const record = JSON.parse(await readFile(this.tagPath(reference), 'utf8')) as { reference?: unknown; digest?: unknown; resolvedAt?: unknown };
      if (record.reference !== reference || typeof record.digest !== 'string' || typeof parseDigest(record.digest) === 'string') return undefined;
      return { digest: record.digest, resolvedAt: String(record.resolvedAt) };
    } catch {
      return undefined;
    }
  }

  async putTag(reference: string, digest: string, resolvedAt = new Date()): Promise<void> {
    await writeFileAtomically(this.tagPath(reference), `${JSON.stringify({ reference, digest, resolvedAt: resolvedAt.toISOString() })}\n`);
  }
}
