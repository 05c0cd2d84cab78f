import { describe, expect, it } from 'vitest';
import {
  foundAnnotationMessage,
  needsImageAnnotations,
  resolveProfileAnnotation,
  type AnnotationInput,
} from '../../src/annotations/index.js';

const V2 = 'seccomp-profile.crio.io';
const V1 = 'seccomp-profile.kubernetes.cri-o.io';
const BOTH = [V2, V1];

function resolve(input: Partial<AnnotationInput>) {
  return resolveProfileAnnotation({ containerName: 'web', podAnnotations: {}, allowed: BOTH, ...input });
}

describe('resolveProfileAnnotation: CRI-O`s order, first match wins', () => {
  const all = {
    pod: { [`${V1}/web`]: 'pod-container', [`${V1}/POD`]: 'pod-pod' },
    image: { [V1]: 'image-bare', [`${V1}/web`]: 'image-container', [`${V1}/POD`]: 'image-pod' },
  };

  it('1. pod annotation for this container', () => {
    expect(resolve({ podAnnotations: all.pod, imageAnnotations: all.image })).toEqual({
      key: `${V1}/web`,
      reference: 'pod-container',
      source: 'pod',
      scope: 'container',
    });
  });

  it('2. pod annotation /POD', () => {
    const pod = { [`${V1}/POD`]: 'pod-pod' };
    expect(resolve({ podAnnotations: pod, imageAnnotations: all.image })).toEqual({
      key: `${V1}/POD`,
      reference: 'pod-pod',
      source: 'pod',
      scope: 'pod',
    });
  });

  it('3. image annotation without suffix, before the image`s container and /POD keys', () => {
    expect(resolve({ imageAnnotations: all.image })).toEqual({
      key: V1,
      reference: 'image-bare',
      source: 'image',
      scope: 'image',
    });
  });

  it('4. image annotation for this container, before the image`s /POD', () => {
    const image = { [`${V1}/web`]: 'image-container', [`${V1}/POD`]: 'image-pod' };
    expect(resolve({ imageAnnotations: image })).toEqual({
      key: `${V1}/web`,
      reference: 'image-container',
      source: 'image',
      scope: 'container',
    });
  });

  it('5. image annotation /POD', () => {
    expect(resolve({ imageAnnotations: { [`${V1}/POD`]: 'image-pod' } })).toMatchObject({
      reference: 'image-pod',
      source: 'image',
      scope: 'pod',
    });
  });

  it('nothing when no key applies; an annotation for another container does nothing', () => {
    expect(resolve({})).toBeUndefined();
    expect(resolve({ podAnnotations: { [`${V1}/db`]: 'x' }, imageAnnotations: { [`${V2}/db`]: 'y' } })).toBeUndefined();
    expect(resolve({ podAnnotations: { [`${V1}.web`]: 'x', [`${V1}/web/extra`]: 'y', [`${V1}/`]: 'z' } })).toBeUndefined();
  });

  it('a bare name on the pod does nothing: pods need /POD or /<container>', () => {
    expect(resolve({ podAnnotations: { [V1]: 'x', [V2]: 'y' } })).toBeUndefined();
  });

  it('matches the container name exactly, case and all', () => {
    expect(resolve({ podAnnotations: { [`${V1}/Web`]: 'x' } })).toBeUndefined();
    expect(resolve({ containerName: 'Web', podAnnotations: { [`${V1}/Web`]: 'x' } })?.reference).toBe('x');
  });

  it('within a step, seccomp-profile.crio.io wins over seccomp-profile.kubernetes.cri-o.io', () => {
    const pod = { [`${V1}/POD`]: 'old', [`${V2}/POD`]: 'new' };
    expect(resolve({ podAnnotations: pod })).toMatchObject({ key: `${V2}/POD`, reference: 'new' });
    expect(resolve({ imageAnnotations: { [V1]: 'old', [V2]: 'new' } })).toMatchObject({ key: V2, reference: 'new' });
  });

  it('across steps, order beats name: an old-name container key wins over a new-name /POD key', () => {
    const pod = { [`${V1}/web`]: 'old-container', [`${V2}/POD`]: 'new-pod' };
    expect(resolve({ podAnnotations: pod })).toMatchObject({ key: `${V1}/web`, reference: 'old-container' });
  });

  it('ignores keys the allowed list does not let through, so they do not shadow allowed ones', () => {
    const pod = { [`${V2}/web`]: 'new', [`${V1}/web`]: 'old' };
    expect(resolve({ podAnnotations: pod, allowed: [V1] })).toMatchObject({ key: `${V1}/web`, reference: 'old' });
    expect(resolve({ podAnnotations: pod, allowed: [V2] })).toMatchObject({ key: `${V2}/web`, reference: 'new' });
    expect(resolve({ podAnnotations: pod, allowed: [] })).toBeUndefined();
  });

  it('an empty value decides too, on no profile, as CRI-O stops at the first key present', () => {
    expect(resolve({ podAnnotations: { [`${V1}/web`]: '', [`${V1}/POD`]: 'pod' } })).toBeUndefined();
    expect(resolve({ podAnnotations: { [`${V2}/POD`]: '' }, imageAnnotations: { [V1]: 'image' } })).toBeUndefined();
  });

  it('does not read inherited properties as annotations', () => {
    const pod = Object.create({ [`${V1}/POD`]: 'inherited' }) as Record<string, string>;
    expect(resolve({ podAnnotations: pod })).toBeUndefined();
  });

  it('a container named POD takes the /POD key as its own, as in CRI-O', () => {
    expect(resolve({ containerName: 'POD', podAnnotations: { [`${V1}/POD`]: 'x' } })).toMatchObject({ scope: 'container' });
  });
});

describe('needsImageAnnotations', () => {
  const input = (podAnnotations: Record<string, string>, allowed = BOTH) => ({ containerName: 'web', podAnnotations, allowed });

  it('is false when a pod annotation decides, even with an empty value', () => {
    expect(needsImageAnnotations(input({ [`${V1}/POD`]: 'x' }))).toBe(false);
    expect(needsImageAnnotations(input({ [`${V2}/web`]: '' }))).toBe(false);
  });

  it('is false when no seccomp annotation is allowed at all', () => {
    expect(needsImageAnnotations(input({}, []))).toBe(false);
    expect(needsImageAnnotations(input({}, ['io.kubernetes.cri-o.Devices']))).toBe(false);
  });

  it('is true otherwise, including when only a disallowed pod key is present', () => {
    expect(needsImageAnnotations(input({}))).toBe(true);
    expect(needsImageAnnotations(input({ [`${V2}/POD`]: 'x' }, [V1]))).toBe(true);
  });
});

describe('foundAnnotationMessage: CRI-O`s wording', () => {
  it.each([
    [{ key: `${V1}/container`, source: 'pod', scope: 'container' }, `Found container specific seccomp profile annotation: ${V1}/container=quay.io/crio/seccomp:v2`],
    [{ key: `${V1}/POD`, source: 'pod', scope: 'pod' }, `Found pod specific seccomp profile annotation: ${V1}=quay.io/crio/seccomp:v2`],
    [{ key: V1, source: 'image', scope: 'image' }, `Found image specific seccomp profile annotation: ${V1}=quay.io/crio/seccomp:v2`],
    [{ key: `${V2}/container1`, source: 'image', scope: 'container' }, `Found image specific seccomp profile annotation for container container1: ${V2}=quay.io/crio/seccomp:v2`],
    [{ key: `${V2}/POD`, source: 'image', scope: 'pod' }, `Found image specific seccomp profile annotation for pod: ${V2}=quay.io/crio/seccomp:v2`],
  ] as const)('%o', (match, message) => {
    expect(foundAnnotationMessage({ ...match, reference: 'quay.io/crio/seccomp:v2' })).toBe(message);
  });

  it('builds the message from a resolved match', () => {
    const match = resolve({ podAnnotations: { [`${V1}/web`]: 'registry.local/p:v1' } });
    expect(match && foundAnnotationMessage(match)).toBe(
      `Found container specific seccomp profile annotation: ${V1}/web=registry.local/p:v1`,
    );
  });
});
