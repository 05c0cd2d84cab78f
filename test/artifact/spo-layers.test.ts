import { describe, expect, it } from 'vitest';
import { profileLayerOf } from '../../src/artifact/artifact-rules.js';
import type { Descriptor, ParsedManifest, Platform } from '../../src/artifact/index.js';
import { spoLayerTitle } from '../../src/artifact/index.js';

const EMPTY = 'application/vnd.oci.empty.v1+json';
const UNKNOWN = 'application/vnd.unknown.config.v1+json';
const SECCOMP = 'application/vnd.cncf.seccomp-profile.config.v1+json';

function layer(title: string, platform?: Descriptor['platform']): Descriptor {
  return {
    mediaType: 'application/vnd.oci.image.layer.v1.tar',
    digest: `sha256:${Buffer.from(title).toString('hex').padEnd(64, '0').slice(0, 64)}`,
    size: 10,
    annotations: { 'org.opencontainers.image.title': title },
    ...(platform ? { platform } : {}),
  };
}

function manifest(layers: Descriptor[], config = EMPTY, artifactType: string | undefined = UNKNOWN): ParsedManifest {
  return {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    schemaVersion: 2,
    ...(artifactType ? { artifactType } : {}),
    config: { mediaType: config, digest: `sha256:${'4'.repeat(64)}`, size: 2 },
    layers,
    manifests: [],
    annotations: {},
  };
}

const AMD64 = { os: 'linux', architecture: 'amd64' };
const ARM64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };
const chosen = (m: ParsedManifest, platform: Platform = AMD64) => profileLayerOf(m, 'compatible', platform).layer.annotations?.['org.opencontainers.image.title'];

describe("choosing the profile layer of an SPO artifact (spoc's layout)", () => {
  const twoPlatforms = manifest([layer('profile-linux-arm64.yaml', { os: 'linux', architecture: 'arm64' }), layer('profile-linux-amd64.yaml', { os: 'linux', architecture: 'amd64' })]);

  it("takes the layer bound to the node's platform, wherever it is", () => {
    expect(chosen(twoPlatforms)).toBe('profile-linux-amd64.yaml');
    expect(chosen(twoPlatforms, ARM64)).toBe('profile-linux-arm64.yaml');
  });

  it('normalises variants and architecture names as containerd does: arm64/v8 is arm64, amd64/v1 is amd64, aarch64 is arm64', () => {
    expect(chosen(manifest([layer('a', { os: 'linux', architecture: 'arm64', variant: 'v8' })]), { os: 'linux', architecture: 'arm64' })).toBe('a');
    expect(chosen(manifest([layer('a', { os: 'linux', architecture: 'arm64' })]), ARM64)).toBe('a');
    expect(chosen(manifest([layer('a', { os: 'linux', architecture: 'amd64', variant: 'v1' })]))).toBe('a');
    expect(chosen(manifest([layer('a', { os: 'linux', architecture: 'aarch64', variant: '8' })]), ARM64)).toBe('a');
    expect(chosen(manifest([layer('a', { os: 'linux', architecture: 'arm', variant: '7' })]), { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe('a');
  });

  it('falls back to an unbound profile.yaml or profile.json; with neither, no layer for this platform is an error naming the ones there are', () => {
    expect(chosen(manifest([layer('profile-linux-s390x.yaml', { os: 'linux', architecture: 's390x' }), layer('profile.yaml')]))).toBe('profile.yaml');
    expect(chosen(manifest([layer('notes.txt'), layer('profile.json')]))).toBe('profile.json');
    expect(() => chosen(twoPlatforms, { os: 'linux', architecture: 's390x' })).toThrow('no profile layer for platform linux/s390x (the artifact has layers for linux/arm64, linux/amd64)');
  });

  it('a single unbound layer, and anything of CRI-O\'s shape, is its first layer as before', () => {
    expect(chosen(manifest([layer('seccomp.json')], SECCOMP, undefined))).toBe('seccomp.json');
    expect(chosen(manifest([layer('profile-linux-amd64.yaml')]))).toBe('profile-linux-amd64.yaml');
    expect(chosen(manifest([layer('first.json'), layer('second.json')], UNKNOWN, undefined))).toBe('first.json');
  });

  it('a KEP-6061 typed artifact is its one JSON layer, platform-bound layers or not', () => {
    expect(chosen(manifest([layer('seccomp.json', { os: 'linux', architecture: 'arm64' })], EMPTY, SECCOMP))).toBe('seccomp.json');
    expect(chosen(manifest([layer('profile.json', { os: 'linux', architecture: 'arm64' })], SECCOMP, undefined))).toBe('profile.json');
  });

  it("names layers as SPO's profileName does", () => {
    expect(spoLayerTitle()).toBe('profile.yaml');
    expect(spoLayerTitle({ os: 'linux', architecture: 'amd64' })).toBe('profile-linux-amd64.yaml');
    expect(spoLayerTitle({ os: 'linux', architecture: 'arm', variant: 'v7' })).toBe('profile-linux-arm-v7.yaml');
    expect(spoLayerTitle({ os: 'windows', architecture: 'amd64', osVersion: '10.0.17763' })).toBe('profile-windows-amd64-10.0.17763.yaml');
  });
});
