import { describe, expect, it } from 'vitest';
import {
  decodeManifest,
  DOCKER_MANIFEST_LIST,
  mergedImageAnnotations,
  OCI_INDEX,
  OCI_MANIFEST,
  readImageAnnotations,
  type ReadManifest,
} from '../../src/artifact/index.js';
import { sha256 } from '../../testbed/registry.js';

const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256('{}'), size: 2 };

/** A manifest document as a registry or content store would give it, digest included. */
function read(json: Record<string, unknown>): ReadManifest {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, ...json }));
  return { digest: sha256(bytes), ...decodeManifest(bytes, '') };
}

function image(annotations: Record<string, string>): ReadManifest {
  return read({ mediaType: OCI_MANIFEST, config, layers: [], annotations });
}

function index(entries: { child: ReadManifest; platform: Record<string, string> }[], annotations: Record<string, string>, mediaType = OCI_INDEX): ReadManifest {
  const manifests = entries.map(({ child, platform }) => ({ mediaType: OCI_MANIFEST, digest: child.digest, size: 1, platform }));
  return read({ mediaType, manifests, annotations });
}

/** A fetch by digest over a fixed set of documents that records what it was asked. */
function store(...documents: ReadManifest[]): { byDigest: (digest: string) => Promise<ReadManifest>; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    byDigest: async (digest) => {
      asked.push(digest);
      const found = documents.find((d) => d.digest === digest);
      if (found === undefined) throw new Error(`no manifest ${digest}`);
      return found;
    },
  };
}

const amd64 = { os: 'linux', architecture: 'amd64' };
const arm64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };

describe('readImageAnnotations: index, then the platform manifest, then merge', () => {
  it("gives a plain manifest's own annotations, fetching nothing", async () => {
    const top = image({ a: 'manifest' });
    const { byDigest, asked } = store();
    const found = await readImageAnnotations(top, byDigest, amd64);
    expect(found).toEqual({ digest: top.digest, mediaType: OCI_MANIFEST, annotations: { a: 'manifest' }, configDigest: config.digest });
    expect(asked).toEqual([]);
    expect(mergedImageAnnotations(found)).toEqual({ a: 'manifest' });
  });

  it("reads an index's entry for the platform only, and its annotations win the merge", async () => {
    const mine = image({ shared: 'platform', own: 'arm64' });
    const other = image({ shared: 'other platform' });
    const top = index([{ child: other, platform: amd64 }, { child: mine, platform: arm64 }], { shared: 'index', top: 'index only' });
    const { byDigest, asked } = store(mine, other);
    const found = await readImageAnnotations(top, byDigest, arm64);
    expect(asked).toEqual([mine.digest]);
    expect(found).toEqual({
      digest: top.digest,
      mediaType: OCI_INDEX,
      annotations: { shared: 'index', top: 'index only' },
      platformManifest: { digest: mine.digest, annotations: { shared: 'platform', own: 'arm64' } },
      configDigest: config.digest,
    });
    expect(mergedImageAnnotations(found)).toEqual({ shared: 'platform', own: 'arm64', top: 'index only' });
  });

  it("reads a Docker manifest list like an OCI index", async () => {
    const mine = image({ from: 'list entry' });
    const top = index([{ child: mine, platform: amd64 }], {}, DOCKER_MANIFEST_LIST);
    const { byDigest } = store(mine);
    expect(mergedImageAnnotations(await readImageAnnotations(top, byDigest, amd64))).toEqual({ from: 'list entry' });
  });

  it('keeps only the index annotations when no entry is for the platform', async () => {
    const top = index([{ child: image({ x: 'y' }), platform: amd64 }], { top: 'index' });
    const { byDigest, asked } = store();
    const found = await readImageAnnotations(top, byDigest, { os: 'linux', architecture: 's390x' });
    expect(found).toEqual({ digest: top.digest, mediaType: OCI_INDEX, annotations: { top: 'index' } });
    expect(asked).toEqual([]);
  });

  it("fails when the platform's manifest cannot be fetched, rather than answer with the index's alone", async () => {
    const missing = image({ never: 'read' });
    const top = index([{ child: missing, platform: amd64 }], { top: 'index' });
    await expect(readImageAnnotations(top, store().byDigest, amd64)).rejects.toThrow(`no manifest ${missing.digest}`);
  });
});
