import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { createRequire } from 'node:module';
import type TarStream from 'tar-stream';
import { ArtifactError } from './errors.js';

const gunzipAsync = promisify(gunzip);
// Only tar layers need it, and most profiles are plain JSON: not loaded at start-up.
const tarStream = () => createRequire(import.meta.url)('tar-stream') as typeof TarStream;

function isGzip(bytes: Buffer): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** POSIX/GNU tar headers carry "ustar" at offset 257. */
function isTar(bytes: Buffer): boolean {
  return bytes.length >= 512 && bytes.subarray(257, 262).toString('latin1') === 'ustar';
}

async function jsonFileFromTar(bytes: Buffer): Promise<Buffer> {
  const extract = tarStream().extract();
  const found: { name: string; bytes: Buffer }[] = [];
  const names: string[] = [];
  const reading = (async () => {
    for await (const entry of extract) {
      const { name, type } = entry.header;
      const chunks: Buffer[] = [];
      for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
      if (type !== 'file' && type !== 'contiguous-file') continue;
      names.push(name);
      if (name.toLowerCase().endsWith('.json')) found.push({ name, bytes: Buffer.concat(chunks) });
    }
  })();
  extract.end(bytes);
  try {
    await reading;
  } catch (error) {
    throw new ArtifactError('InvalidArtifact', `layer is not a readable tar archive: ${(error as Error).message}`);
  }
  const only = found[0];
  if (found.length !== 1 || only === undefined) {
    throw new ArtifactError('InvalidArtifact', `layer tar archive must hold exactly one .json file, it holds ${found.length} (files: ${names.join(', ') || 'none'})`);
  }
  return only.bytes;
}

/**
 * The profile a layer blob carries: the blob itself (the usual case: raw JSON whatever the layer's
 * media type says), or the one `.json` file of a tar archive, gzip-compressed or not. Detected by
 * content, since publishers label layers inconsistently.
 */
export async function profileFromLayer(layer: Buffer, maxBytes: number): Promise<Buffer> {
  let bytes = layer;
  if (isGzip(bytes)) {
    try {
      bytes = await gunzipAsync(bytes, { maxOutputLength: maxBytes });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new ArtifactError('TooLarge', `layer decompresses to more than the limit of ${maxBytes} bytes`);
      }
      throw new ArtifactError('InvalidArtifact', `layer looks gzip-compressed but does not decompress: ${(error as Error).message}`);
    }
  }
  return isTar(bytes) ? jsonFileFromTar(bytes) : bytes;
}
