import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactError } from '../../src/artifact/index.js';
import { createProfilePreparer } from '../../src/injector/prepare-profile.js';
import { createChainResolver, formatChain, MAX_CHAIN_LENGTH, type PulledLink } from '../../src/injector/profile-chain.js';
import { ProfileFiles } from '../../src/injector/profile-files.js';
import { parseSpoProfile, ProfileError } from '../../src/seccomp/index.js';
import { SignatureError } from '../../src/signature/index.js';

const digestOf = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

function spoYaml(name: string, denied: string, base?: string, defaultAction = 'SCMP_ACT_ALLOW'): Buffer {
  return Buffer.from(
    [
      'apiVersion: security-profiles-operator.x-k8s.io/v1beta1',
      'kind: SeccompProfile',
      `metadata: {name: ${name}}`,
      'spec:',
      `  defaultAction: ${defaultAction}`,
      ...(base ? [`  baseProfileName: ${base}`] : []),
      '  syscalls:',
      `    - {action: SCMP_ACT_ERRNO, errnoRet: 1, names: [${denied}]}`,
      `    - {action: SCMP_ACT_ALLOW, names: [read-${name}]}`,
    ].join('\n'),
  );
}

/** A registry of references to documents, counting pulls; a document is its own digest. */
function fakeRegistry(documents: Record<string, Buffer>) {
  const pulls: string[] = [];
  const pull = async (reference: string) => {
    pulls.push(reference);
    const bytes = documents[reference];
    if (!bytes) throw new ArtifactError('NotFound', `pulling "${reference}": manifest unknown (404)`);
    const pulled: PulledLink = { manifestDigest: digestOf(bytes), bytes };
    return { pulled, verification: { verified: false } };
  };
  return { pull, pulls };
}

describe('resolving a chain of SPO base profiles', () => {
  it('pulls each base in order, keeps the child\'s default action, and merges the rules as SPO does', async () => {
    const base = spoYaml('base', 'chmod', undefined, 'SCMP_ACT_KILL');
    const middle = spoYaml('middle', 'chown', `oci://r.example/base@${digestOf(base)}`, 'SCMP_ACT_LOG');
    const child = spoYaml('child', 'mkdir', 'oci://r.example/middle:v1');
    const { pull, pulls } = fakeRegistry({ 'r.example/child:v1': child, 'r.example/middle:v1': middle, [`r.example/base@${digestOf(base)}`]: base });
    const chain = await createChainResolver(pull, 10)('r.example/child:v1');
    expect(pulls).toEqual(['r.example/child:v1', 'r.example/middle:v1', `r.example/base@${digestOf(base)}`]);
    expect(chain.links.map((l) => [l.reference, l.name, l.format])).toEqual([
      ['r.example/child:v1', 'child', 'spo'],
      ['r.example/middle:v1', 'middle', 'spo'],
      [`r.example/base@${digestOf(base)}`, 'base', 'spo'],
    ]);
    expect(formatChain(chain.links)).toBe(`r.example/child:v1@${digestOf(child)},r.example/middle:v1@${digestOf(middle)},r.example/base@${digestOf(base)}@${digestOf(base)}`);
    const merged = 'profile' in chain.source ? chain.source.profile : undefined;
    expect(merged?.defaultAction).toBe('SCMP_ACT_ALLOW');
    expect(merged?.syscalls.map((r) => `${r.names?.join()}:${r.action}`)).toEqual([
      'chmod:SCMP_ACT_ERRNO',
      'chown:SCMP_ACT_ERRNO',
      'mkdir:SCMP_ACT_ERRNO',
      'read-base:SCMP_ACT_ALLOW',
      'read-child:SCMP_ACT_ALLOW',
      'read-middle:SCMP_ACT_ALLOW',
    ]);
  });

  it('a CRI-O JSON profile is a chain of one, handed on unread as published (its conversion reads it)', async () => {
    const json = Buffer.from(JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'mkdir', action: 'SCMP_ACT_ERRNO' }] }));
    const chain = await createChainResolver(fakeRegistry({ 'r.example/p:v1': json }).pull, 10)('r.example/p:v1');
    expect(chain.links.map((l) => l.format)).toEqual(['json']);
    expect(chain.source).toEqual({ bytes: json });
  });

  it(`${MAX_CHAIN_LENGTH} profiles resolve; a ${MAX_CHAIN_LENGTH + 1}th is refused before it is pulled, naming the chain`, async () => {
    const documents: Record<string, Buffer> = {};
    for (let i = 0; i <= MAX_CHAIN_LENGTH; i += 1) documents[`r.example/p${i}:v1`] = spoYaml(`p${i}`, `deny${i}`, i < MAX_CHAIN_LENGTH ? `oci://r.example/p${i + 1}:v1` : undefined);
    const ok = await createChainResolver(fakeRegistry(documents).pull, 10)('r.example/p1:v1');
    expect(ok.links).toHaveLength(MAX_CHAIN_LENGTH);
    const { pull, pulls } = fakeRegistry(documents);
    const error = await createChainResolver(pull, 10)('r.example/p0:v1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArtifactError);
    expect(pulls).toHaveLength(MAX_CHAIN_LENGTH);
    expect((error as Error).message).toMatch(/^base profile chain r\.example\/p0:v1@sha256:[0-9a-f]{64} -> r\.example\/p1:v1@/);
    expect((error as Error).message).toMatch(/ goes on to oci:\/\/r\.example\/p15:v1: more than 15 profiles \(SPO's limit of 14 base profiles\)$/);
  });

  it('a cycle is refused, naming the chain', async () => {
    const { pull } = fakeRegistry({ 'r.example/a:v1': spoYaml('a', 'x', 'oci://r.example/b:v1'), 'r.example/b:v1': spoYaml('b', 'y', 'oci://r.example/a:v1') });
    const error = await createChainResolver(pull, 10)('r.example/a:v1').catch((e: unknown) => e);
    expect((error as ArtifactError).reason).toBe('InvalidArtifact');
    expect((error as Error).message).toMatch(/^base profile chain r\.example\/a:v1@sha256:\w+ -> r\.example\/b:v1@sha256:\w+ -> r\.example\/a:v1@sha256:\w+ is a cycle: link 3 is link 1 again$/);
  });

  it('a base without oci:// names a cluster object: refused; a JSON base is refused too', async () => {
    const local = createChainResolver(fakeRegistry({ 'r.example/a:v1': spoYaml('a', 'x', 'runc-v1.1.5') }).pull, 10);
    await expect(local('r.example/a:v1')).rejects.toThrow(/names base profile "runc-v1.1.5", a cluster object a node cannot read/);
    const json = Buffer.from('{"defaultAction":"SCMP_ACT_ALLOW"}');
    const mixed = createChainResolver(fakeRegistry({ 'r.example/a:v1': spoYaml('a', 'x', 'oci://r.example/j:v1'), 'r.example/j:v1': json }).pull, 10);
    await expect(mixed('r.example/a:v1')).rejects.toThrow(/-> r\.example\/j:v1@sha256:\w+ is not a Security Profiles Operator SeccompProfile/);
  });

  it('reads each link once however many pods resolve the chain at once, through the reader it is given', async () => {
    const base = spoYaml('base', 'chmod');
    const child = spoYaml('child', 'mkdir', 'oci://r.example/base:v1');
    const { pull } = fakeRegistry({ 'r.example/child:v1': child, 'r.example/base:v1': base });
    const reads: string[] = [];
    const slowReader = async (bytes: Buffer, source: string) => {
      reads.push(source);
      await new Promise((resolve) => setTimeout(resolve, 20));
      return parseSpoProfile(bytes, source);
    };
    const resolve = createChainResolver(pull, 10, slowReader);
    const chains = await Promise.all(Array.from({ length: 10 }, () => resolve('r.example/child:v1')));
    expect(reads).toEqual(['r.example/child:v1', 'r.example/base:v1']);
    expect(new Set(chains.map((c) => c.key)).size).toBe(1);
    await resolve('r.example/child:v1');
    expect(reads).toHaveLength(2);
  });

  it("a base's failure keeps its class and CRI word and says whose base it is", async () => {
    const documents = { 'r.example/a:v1': spoYaml('a', 'x', 'oci://r.example/gone:v1') };
    const missing = await createChainResolver(fakeRegistry(documents).pull, 10)('r.example/a:v1').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ArtifactError);
    expect((missing as ArtifactError).reason).toBe('NotFound');
    expect((missing as Error).message).toMatch(/^base profile of r\.example\/a:v1@sha256:\w+: pulling "r\.example\/gone:v1": manifest unknown/);

    const { pull } = fakeRegistry({ ...documents, 'r.example/gone:v1': spoYaml('gone', 'y') });
    const unsigned = async (reference: string) => {
      const pulled = await pull(reference);
      if (reference.includes('gone')) throw new SignatureError({ reference, digest: pulled.pulled.manifestDigest, rule: 'signed-only', rejections: [] });
      return pulled;
    };
    const error = await createChainResolver(unsigned, 10)('r.example/a:v1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SignatureError);
    expect((error as Error).message).toMatch(/^SignatureValidationFailed: base profile of r\.example\/a:v1@sha256:\w+: r\.example\/gone:v1 \(digest sha256:\w+\) under signature rule "signed-only": no signature found$/);

    const bad = createChainResolver(fakeRegistry({ ...documents, 'r.example/gone:v1': spoYaml('gone', 'y', undefined, 'SCMP_ACT_NOTIFY') }).pull, 10);
    const invalid = await bad('r.example/a:v1').catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ProfileError);
    expect((invalid as Error).message).toMatch(/^base profile of r\.example\/a:v1@\S+: seccomp profile from r\.example\/gone:v1 \(SeccompProfile "gone", spec\): defaultAction: SCMP_ACT_NOTIFY/);
  });
});

describe('the CreateContainer preparer with a chain', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'shim-chain-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the merged profile, names every link, and every link goes through the signature check', async () => {
    const base = spoYaml('base', 'chmod');
    const child = spoYaml('child', 'mkdir', 'oci://r.example/base:v1');
    const { pull } = fakeRegistry({ 'r.example/child:v1': child, 'r.example/base:v1': base });
    const verified: string[] = [];
    const preparer = createProfilePreparer({
      artifacts: { pullProfile: async (reference) => ({ registry: 'r.example', repository: reference.split('/')[1] ?? '', ...(await pull(reference)).pulled }) },
      signatures: { verifyArtifact: async (subject) => verified.push(`${subject.reference}@${subject.digest}`) },
      files: new ProfileFiles(dir),
      node: { arch: 'amd64', kernelVersion: '6.1.0' },
      cacheEntries: 10,
    });
    const prepared = await preparer.prepare('r.example/child:v1', { capabilities: [] }, new AbortController().signal);
    expect(prepared.applied).toBe(`r.example/child:v1@${digestOf(child)},r.example/base:v1@${digestOf(base)}`);
    expect(verified).toEqual(prepared.applied.split(','));
    expect(prepared.manifestDigest).toBe(digestOf(child));
    expect(prepared.publishedLength).toBe(child.length);
    const written = JSON.parse(readFileSync(prepared.path, 'utf8')) as { syscalls: { names: string[] }[] };
    expect(written.syscalls.flatMap((s) => s.names)).toEqual(['chmod', 'mkdir', 'read-base', 'read-child']);
  });
});
