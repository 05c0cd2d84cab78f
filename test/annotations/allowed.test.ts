import { describe, expect, it } from 'vitest';
import {
  canAllowImageAnnotations,
  isAnnotationAllowed,
} from '../../src/annotations/index.js';

const V2 = 'seccomp-profile.crio.io';
const V1 = 'seccomp-profile.kubernetes.cri-o.io';

describe('isAnnotationAllowed: CRI-O`s prefix rule', () => {
  it('a listed name allows its bare, /POD and /<container> keys', () => {
    for (const key of [V1, `${V1}/POD`, `${V1}/web`]) expect(isAnnotationAllowed(key, [V1])).toBe(true);
    for (const key of [V2, `${V2}/POD`, `${V2}/web`]) expect(isAnnotationAllowed(key, [V2])).toBe(true);
  });

  it('an unlisted name disallows every key it prefixes', () => {
    for (const key of [V1, `${V1}/POD`, `${V1}/web`, `${V1}.web`]) expect(isAnnotationAllowed(key, [])).toBe(false);
  });

  it('allowing one name does not allow the other', () => {
    expect(isAnnotationAllowed(`${V1}/POD`, [V2])).toBe(false);
    expect(isAnnotationAllowed(`${V2}/POD`, [V1])).toBe(false);
  });

  it('a key-shaped entry is not a name and allows nothing', () => {
    expect(isAnnotationAllowed(`${V1}/POD`, [`${V1}/POD`])).toBe(false);
  });

  it('leaves keys outside the seccomp profile names alone', () => {
    expect(isAnnotationAllowed('io.kubernetes.cri-o.Devices', [])).toBe(true);
    expect(isAnnotationAllowed('example.com/anything', [])).toBe(true);
  });
});

describe('canAllowImageAnnotations', () => {
  it('is true when either seccomp profile name is listed', () => {
    expect(canAllowImageAnnotations([V1])).toBe(true);
    expect(canAllowImageAnnotations(['io.kubernetes.cri-o.Devices', V2])).toBe(true);
  });

  it('is false otherwise', () => {
    expect(canAllowImageAnnotations([])).toBe(false);
    expect(canAllowImageAnnotations(['io.kubernetes.cri-o.Devices', `${V1}/POD`])).toBe(false);
  });
});
