import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tar, { type Header } from 'tar-stream';
import type { RegistryClient } from '../src/artifact/index.js';
import { OCI_INDEX, OCI_LAYER_TAR, OCI_MANIFEST } from '../src/artifact/media-types.js';

/**
 * A container image built by hand from the machine's static busybox, so the end-to-end tests
 * need no registry on the internet: it serves as containerd's pause image and as workload image.
 */

export { OCI_INDEX, OCI_LAYER_TAR, OCI_MANIFEST } from '../src/artifact/media-types.js';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** The name the image is imported under; also containerd's `sandbox_image` in the test config. */
export const BUSYBOX_IMAGE = 'localhost/pause:latest';

/** A content-addressed blob with the descriptor facts that point at it. */
export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
}

/** An OCI descriptor (image-spec descriptor.md) as it appears in JSON. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

export interface BusyboxImage {
  config: Blob;
  layer: Blob;
  manifest: Blob;
  platform: { architecture: string; os: string };
}

export interface BusyboxImageOptions {
  /** Annotations written into the manifest, such as `seccomp-profile.kubernetes.cri-o.io/POD`. */
  manifestAnnotations?: Record<string, string>;
  /** The image config's Entrypoint; `/bin/sleep 3600` by default so a container stays up. */
  entrypoint?: string[];
  /** Path of a statically linked busybox; `/bin/busybox` (Debian's busybox-static) by default. */
  busyboxPath?: string;
}

/** `sha256:<hex>` of the bytes. */
export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A blob of `mediaType` holding `bytes`. */
export function blobOf(mediaType: string, bytes: Buffer): Blob {
  return { mediaType, digest: sha256Digest(bytes), size: bytes.length, bytes };
}

/** The descriptor pointing at a blob. */
export function descriptorOf(blob: Blob, annotations?: Record<string, string>): Descriptor {
  const descriptor: Descriptor = { mediaType: blob.mediaType, digest: blob.digest, size: blob.size };
  if (annotations && Object.keys(annotations).length > 0) descriptor.annotations = annotations;
  return descriptor;
}

/** The OCI architecture name of this machine (image-spec uses Go's GOARCH values). */
export function ociArchitecture(nodeArch: string = process.arch): string {
  const names: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };
  const name = names[nodeArch];
  if (!name) throw new Error(`no OCI architecture name known for Node's process.arch "${nodeArch}"`);
  return name;
}

/** A tar entry: its header and, for files, the content. */
export type TarEntry = Partial<Header> & { name: string; content?: Buffer };

/** Writes tar entries to a buffer. Entries are given in order; mtimes are fixed so equal input gives equal bytes. */
export async function tarBuffer(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const { content, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      const full = { uid: 0, gid: 0, mtime: new Date(0), ...header };
      if (content !== undefined) pack.entry({ ...full, size: content.length }, content, done);
      else pack.entry(full, done);
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/** The applet names the busybox binary was built with, each becoming a `/bin/<name>` symlink. */
function busyboxApplets(busyboxPath: string): string[] {
  const listed = execFileSync(busyboxPath, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((name) => name.trim())
    .filter((name) => name !== '' && name !== 'busybox' && !name.includes('/'));
  for (const needed of ['sh', 'sleep', 'cat', 'mkdir', 'rmdir', 'ls', 'echo', 'grep', 'id', 'true']) {
    if (!listed.includes(needed)) throw new Error(`${busyboxPath} lacks the applet "${needed}" the tests use`);
  }
  return listed;
}

/** The single layer: a minimal root filesystem with `/bin/busybox` and a symlink per applet. */
export async function busyboxLayer(busyboxPath = '/bin/busybox'): Promise<Blob> {
  const binary = await readFile(busyboxPath);
  const dirs: TarEntry[] = [
    { name: 'bin/', type: 'directory', mode: 0o755 },
    { name: 'dev/', type: 'directory', mode: 0o755 },
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'proc/', type: 'directory', mode: 0o555 },
    { name: 'root/', type: 'directory', mode: 0o700 },
    { name: 'sys/', type: 'directory', mode: 0o555 },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ];
  const files: TarEntry[] = [
    { name: 'bin/busybox', type: 'file', mode: 0o755, content: binary },
    // Named users let `id` and runc's user lookup print names instead of failing on a missing file.
    { name: 'etc/passwd', type: 'file', mode: 0o644, content: Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n') },
    { name: 'etc/group', type: 'file', mode: 0o644, content: Buffer.from('root:x:0:\nnogroup:x:65534:\n') },
  ];
  const links = busyboxApplets(busyboxPath).map((name): TarEntry => ({
    name: `bin/${name}`,
    type: 'symlink',
    linkname: 'busybox',
    mode: 0o777,
  }));
  return blobOf(OCI_LAYER_TAR, await tarBuffer([...dirs, ...files, ...links]));
}

/** JSON bytes with a stable key order (the order written), as pushed and as digested. */
function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** Builds the busybox image: config, layer and a manifest carrying `manifestAnnotations`. */
export async function buildBusyboxImage(options: BusyboxImageOptions = {}): Promise<BusyboxImage> {
  const layer = await busyboxLayer(options.busyboxPath);
  const platform = { architecture: ociArchitecture(), os: 'linux' };
  const config = blobOf(
    OCI_CONFIG,
    jsonBytes({
      created: '1970-01-01T00:00:00Z',
      ...platform,
      config: {
        Env: ['PATH=/bin'],
        Entrypoint: options.entrypoint ?? ['/bin/sleep', '3600'],
        WorkingDir: '/',
      },
      // The layer is an uncompressed tar, so its diff id is its own digest.
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'testbed/images.ts from busybox-static' }],
    }),
  );
  const manifestJson: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptorOf(config),
    layers: [descriptorOf(layer)],
  };
  if (options.manifestAnnotations && Object.keys(options.manifestAnnotations).length > 0) {
    manifestJson.annotations = options.manifestAnnotations;
  }
  const manifest = blobOf(OCI_MANIFEST, jsonBytes(manifestJson));
  return { config, layer, manifest, platform };
}

/**
 * The image as a tarred OCI image layout (image-spec image-layout.md): `oci-layout`,
 * `index.json` naming the manifest `refName`, and `blobs/sha256/<hex>` for every blob.
 */
export async function ociLayoutTar(image: BusyboxImage, refName = 'latest'): Promise<Buffer> {
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      { ...descriptorOf(image.manifest, { [REF_NAME_ANNOTATION]: refName }), platform: image.platform },
    ],
  };
  const blobs = [image.config, image.layer, image.manifest];
  return tarBuffer([
    { name: 'oci-layout', type: 'file', mode: 0o644, content: jsonBytes({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', type: 'file', mode: 0o644, content: jsonBytes(index) },
    { name: 'blobs/', type: 'directory', mode: 0o755 },
    { name: 'blobs/sha256/', type: 'directory', mode: 0o755 },
    ...blobs.map((blob) => ({
      name: `blobs/sha256/${blob.digest.slice('sha256:'.length)}`,
      type: 'file' as const,
      mode: 0o644,
      content: blob.bytes,
    })),
  ]);
}

/** Writes the layout tar (manifest named `refName`) into `dir` for `ctr images import`; returns its path. */
export async function writeImportTar(dir: string, image: BusyboxImage, refName = 'latest'): Promise<string> {
  const file = path.join(dir, `busybox-oci-${refName}.tar`);
  await writeFile(file, await ociLayoutTar(image, refName));
  return file;
}

/** Pushes an image's layer, config and manifest to `ref`; resolves to the manifest digest. */
export async function pushImage(client: RegistryClient, ref: string, image: BusyboxImage): Promise<string> {
  await client.putBlob(ref, image.layer.bytes);
  await client.putBlob(ref, image.config.bytes);
  return (await client.putManifest(ref, image.manifest.bytes, OCI_MANIFEST)).digest;
}
