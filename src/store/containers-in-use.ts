import type * as grpc from '@grpc/grpc-js';
import { criServiceConstructors, grpcJs, unixTarget } from '../cri/proto.js';
import { GrpcCode } from '../proxy/index.js';
import { APPLIED_PROFILE_ANNOTATION } from '../injector/create-container.js';

export interface AppliedProfile {
  reference: string;
  digest: string;
}

/** One container as the runtime lists it, with what of the shim's state it references. */
export interface ContainerUse {
  id: string;
  name: string;
  state: string;
  /** Every `REF@DIGEST` its audit annotation names (one, or several for stacked profiles). */
  applied: AppliedProfile[];
  /** Every digest its audit annotation mentions at all: what gc keeps. */
  digests: string[];
  /** Profile files under the state directory its verbose status names; undefined when the runtime gave no verbose status. */
  files: string[] | undefined;
}

export interface InUse {
  containers: ContainerUse[];
  manifestDigests: Set<string>;
  files: Set<string>;
  /** False when some container's files could not be read: then no profile file counts as unused. */
  filesKnown: boolean;
  /**
   * Manifest digests of the images the runtime holds (their repo digests): the image annotation
   * records worth keeping. Undefined when the runtime did not list its images: every record stays.
   */
  imageDigests?: Set<string>;
}

const DIGEST = /sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}/g;
const APPLIED = /([^\s,;"'[\]]+?)@(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})(?=$|[\s,;"'\]])/g;

/**
 * `REF@DIGEST` pairs in the audit annotation, read tolerantly: one pair, or several separated by
 * commas, spaces or as a JSON list, whatever a later injector writes for stacked profiles.
 */
export function parseAppliedProfiles(value: string): { applied: AppliedProfile[]; digests: string[] } {
  const applied = [...value.matchAll(APPLIED)].map(([, reference = '', digest = '']) => ({ reference, digest }));
  return { applied, digests: [...new Set(value.match(DIGEST) ?? [])] };
}

/** Paths of `<profilesDir>/<sha256>.json` files named anywhere in a runtime's verbose status text. */
export function profileFilesIn(text: string, profilesDir: string): string[] {
  const escaped = profilesDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return [...new Set(text.match(new RegExp(`${escaped}/[0-9a-f]{64}\\.json`, 'g')) ?? [])];
}

type UnaryMethod = (request: object, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: unknown) => void) => void;

interface ListedContainer {
  id?: string;
  metadata?: { name?: string } | null;
  state?: string;
  annotations?: Record<string, string>;
}

const CALL_TIMEOUT_MS = 10_000;
const PARALLEL_STATUS_CALLS = 8;

/**
 * Asks the runtime which containers exist and what they reference: ListContainers for the audit
 * annotations, ContainerStatus (verbose) for the profile file each container loads. Any failure
 * of the list throws: gc then removes nothing.
 */
export async function containersInUse(runtimeEndpoint: string, profilesDir: string): Promise<InUse> {
  const { RuntimeService, ImageService } = criServiceConstructors();
  const credentials = grpcJs().credentials.createInsecure();
  const client = new RuntimeService(unixTarget(runtimeEndpoint), credentials);
  const images = new ImageService(unixTarget(runtimeEndpoint), credentials);
  const callOn =
    (service: grpc.Client) =>
    <T>(method: string, request: object): Promise<T> =>
      new Promise((resolve, reject) => {
        const fn = (service as unknown as Record<string, UnaryMethod>)[method] as UnaryMethod;
        fn.call(service, request, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error, response) => (error ? reject(error) : resolve(response as T)));
      });
  const call = callOn(client);
  try {
    const listed = (await call<{ containers?: ListedContainer[] }>('ListContainers', {})).containers ?? [];
    const containers: ContainerUse[] = [];
    for (let i = 0; i < listed.length; i += PARALLEL_STATUS_CALLS) {
      const batch = listed.slice(i, i + PARALLEL_STATUS_CALLS);
      containers.push(...(await Promise.all(batch.map((c) => describe(c, call, profilesDir)))).filter((c) => c !== undefined));
    }
    const inUse: InUse = { containers, manifestDigests: new Set(), files: new Set(), filesKnown: true };
    for (const container of containers) {
      for (const digest of container.digests) inUse.manifestDigests.add(digest);
      if (container.files === undefined) inUse.filesKnown = false;
      for (const file of container.files ?? []) inUse.files.add(file);
    }
    const imageDigests = await imageDigestsOnNode(callOn(images));
    if (imageDigests) inUse.imageDigests = imageDigests;
    return inUse;
  } finally {
    client.close();
    images.close();
  }
}

/** The digests in every listed image's repo digests; undefined when the runtime does not list them. */
async function imageDigestsOnNode(call: <T>(method: string, request: object) => Promise<T>): Promise<Set<string> | undefined> {
  try {
    const listed = (await call<{ images?: { repo_digests?: string[] }[] }>('ListImages', {})).images ?? [];
    return new Set(listed.flatMap((image) => (image.repo_digests ?? []).map((repoDigest) => repoDigest.slice(repoDigest.lastIndexOf('@') + 1))));
  } catch {
    return undefined;
  }
}

async function describe(
  listed: ListedContainer,
  call: <T>(method: string, request: object) => Promise<T>,
  profilesDir: string,
): Promise<ContainerUse | undefined> {
  const id = listed.id ?? '';
  const { applied, digests } = parseAppliedProfiles(listed.annotations?.[APPLIED_PROFILE_ANNOTATION] ?? '');
  let files: string[] | undefined;
  try {
    const status = await call<{ info?: Record<string, string> }>('ContainerStatus', { container_id: id, verbose: true });
    const info = Object.values(status.info ?? {});
    files = info.length > 0 ? profileFilesIn(info.join('\n'), profilesDir) : undefined;
  } catch (error) {
    // Removed between the list and the question: it references nothing any more.
    if ((error as grpc.ServiceError).code === GrpcCode.NOT_FOUND) return undefined;
    files = undefined;
  }
  return { id, name: listed.metadata?.name ?? '', state: listed.state ?? '', applied, digests, files };
}
