import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { criRoot } from '../../src/cri/proto.js';

const referencePath = fileURLToPath(new URL('../../../shared/cri-api/runtime.v1.json', import.meta.url));

interface FieldFacts {
  id: number;
  type: string;
  rule?: string;
  keyType?: string;
}

function namespaceOf(root: protobuf.Root): protobuf.Namespace {
  return root.lookup('runtime.v1') as protobuf.Namespace;
}

/** Every service, method, message, enum and field of a namespace, flattened to comparable facts. */
function facts(ns: protobuf.Namespace, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const item of ns.nestedArray) {
    const name = prefix + item.name;
    if (item instanceof protobuf.Service) {
      for (const method of item.methodsArray) {
        out.set(`${name}.${method.name}`, {
          requestType: method.requestType,
          responseType: method.responseType,
          requestStream: Boolean(method.requestStream),
          responseStream: Boolean(method.responseStream),
        });
      }
    } else if (item instanceof protobuf.Enum) {
      out.set(name, { ...item.values });
    } else if (item instanceof protobuf.Type) {
      for (const field of item.fieldsArray) {
        const f: FieldFacts = { id: field.id, type: field.type };
        if (field.repeated) f.rule = 'repeated';
        if (field instanceof protobuf.MapField) f.keyType = field.keyType;
        out.set(`${name}.${field.name}`, f);
      }
      for (const [k, v] of facts(item, `${name}.`)) out.set(k, v);
    }
  }
  return out;
}

// The reference lives in the workplace's shared/ beside the clone; CI has it there.
describe.runIf(existsSync(referencePath))('proto/runtime/v1/api.proto', () => {
  let reference: Map<string, unknown>;
  let ours: Map<string, unknown>;
  beforeAll(() => {
    reference = facts(namespaceOf(protobuf.Root.fromJSON(JSON.parse(readFileSync(referencePath, 'utf8')))));
    ours = facts(namespaceOf(criRoot()));
  });

  it('has every method, message, enum and field of CRI v1 with the same wire facts', () => {
    const missing = [...reference.keys()].filter((k) => !ours.has(k));
    expect(missing).toEqual([]);
    for (const [key, value] of reference) expect({ key, value: ours.get(key) }).toEqual({ key, value });
  });

  it('adds nothing the reference does not have', () => {
    expect([...ours.keys()].filter((k) => !reference.has(k))).toEqual([]);
  });

  it('has 37 RuntimeService and 6 ImageService methods, 7 of them server-streaming', () => {
    const methods = [...reference.keys()].filter((k) => k.startsWith('RuntimeService.') || k.startsWith('ImageService.'));
    expect(methods.filter((k) => k.startsWith('RuntimeService.'))).toHaveLength(37);
    expect(methods.filter((k) => k.startsWith('ImageService.'))).toHaveLength(6);
    const streaming = [...ours.entries()].filter(([, v]) => (v as { responseStream?: boolean }).responseStream);
    expect(streaming).toHaveLength(7);
  });
});
