import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { buildBusyboxImage, ociLayoutTar, sha256Digest, OCI_CONFIG, OCI_LAYER_TAR, OCI_MANIFEST } from '../../testbed/images.js';
import { skipUnlessLinux } from '../support/requirements.js';

/** Every entry of a tar: name to { type, linkname, content }. */
async function readTar(bytes: Buffer): Promise<Map<string, { type: string; linkname: string | null; content: Buffer }>> {
  const entries = new Map<string, { type: string; linkname: string | null; content: Buffer }>();
  const extract = tar.extract();
  Readable.from([bytes]).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    entries.set(entry.header.name, { type: entry.header.type, linkname: entry.header.linkname ?? null, content: Buffer.concat(chunks) });
  }
  return entries;
}

describe.skipIf(skipUnlessLinux('the busybox image (test/testbed/busybox-image.test.ts)', { commands: ['busybox'] }))('the hand-built busybox image (testbed/images.ts)', () => {
  it('is content-addressed: every descriptor names its blob by sha256 and size', async () => {
    const image = await buildBusyboxImage();
    for (const blob of [image.config, image.layer, image.manifest]) {
      expect(blob.digest).toBe(sha256Digest(blob.bytes));
      expect(blob.size).toBe(blob.bytes.length);
    }
    const manifest = JSON.parse(image.manifest.bytes.toString());
    expect(manifest).toEqual({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: image.config.digest, size: image.config.size },
      layers: [{ mediaType: OCI_LAYER_TAR, digest: image.layer.digest, size: image.layer.size }],
    });
    const config = JSON.parse(image.config.bytes.toString());
    expect(config.config.Entrypoint).toEqual(['/bin/sleep', '3600']);
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: [image.layer.digest] });
  });

  it('is reproducible, and manifest annotations change only the manifest', async () => {
    const plain = await buildBusyboxImage();
    const again = await buildBusyboxImage();
    expect(again.manifest.digest).toBe(plain.manifest.digest);
    const annotated = await buildBusyboxImage({
      manifestAnnotations: { 'seccomp-profile.kubernetes.cri-o.io/POD': 'localhost:5000/profiles/deny-mkdir:v1' },
    });
    expect(annotated.layer.digest).toBe(plain.layer.digest);
    expect(annotated.config.digest).toBe(plain.config.digest);
    expect(annotated.manifest.digest).not.toBe(plain.manifest.digest);
    expect(JSON.parse(annotated.manifest.bytes.toString()).annotations).toEqual({
      'seccomp-profile.kubernetes.cri-o.io/POD': 'localhost:5000/profiles/deny-mkdir:v1',
    });
  });

  it('has busybox and applet symlinks in its layer', async () => {
    const layer = await readTar((await buildBusyboxImage()).layer.bytes);
    expect(layer.get('bin/busybox')?.type).toBe('file');
    for (const applet of ['sh', 'sleep', 'cat', 'mkdir', 'rmdir', 'id']) {
      expect(layer.get(`bin/${applet}`)).toMatchObject({ type: 'symlink', linkname: 'busybox' });
    }
    expect(layer.get('tmp/')?.type).toBe('directory');
  });

  it('tars an OCI image layout whose index names the manifest', async () => {
    const image = await buildBusyboxImage();
    const layout = await readTar(await ociLayoutTar(image, 'latest'));
    expect(JSON.parse(layout.get('oci-layout')?.content.toString() ?? '')).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(layout.get('index.json')?.content.toString() ?? '');
    expect(index.manifests).toEqual([
      expect.objectContaining({
        digest: image.manifest.digest,
        annotations: { 'org.opencontainers.image.ref.name': 'latest' },
      }),
    ]);
    for (const blob of [image.config, image.layer, image.manifest]) {
      expect(layout.get(`blobs/sha256/${blob.digest.slice(7)}`)?.content.equals(blob.bytes)).toBe(true);
    }
  });
});
