import { parseDuration } from './duration.js';

/** The shape a TOML value must have; `table` with `entries` describes tables with free keys. */
export type Schema =
  | { kind: 'string' }
  | { kind: 'absolute-path' }
  | { kind: 'boolean' }
  | { kind: 'integer'; min: number; max?: number }
  | { kind: 'duration' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'string-list' }
  | { kind: 'table'; fields?: Record<string, Schema>; entries?: Schema }
  | { kind: 'table-list'; item: Schema };

/** The value a schema lets through, as checkAgainstSchema returns it (durations in milliseconds). */
export type SchemaValue<S extends Schema> = S extends { kind: 'string' | 'absolute-path' }
  ? string
  : S extends { kind: 'boolean' }
    ? boolean
    : S extends { kind: 'integer' | 'duration' }
      ? number
      : S extends { kind: 'enum'; values: readonly (infer V)[] }
        ? V
        : S extends { kind: 'string-list' }
          ? string[]
          : S extends { kind: 'table-list'; item: infer I extends Schema }
            ? SchemaValue<I>[]
            : S extends { kind: 'table'; fields: infer F extends Record<string, Schema> }
              ? { -readonly [K in keyof F]?: SchemaValue<F[K]> }
              : S extends { kind: 'table'; entries: infer E extends Schema }
                ? Record<string, SchemaValue<E>>
                : never;

export interface SchemaProblem {
  path: string[];
  message: string;
}

/**
 * Checks a parsed TOML value against a schema. Durations come back as milliseconds; everything
 * else keeps its TOML value. Keys the schema does not know are reported separately so the caller
 * can warn about them instead of failing.
 */
export function checkAgainstSchema(
  value: unknown,
  schema: Schema,
  path: string[] = [],
): { value: unknown; errors: SchemaProblem[]; unknownKeys: string[][] } {
  const errors: SchemaProblem[] = [];
  const unknownKeys: string[][] = [];
  const fail = (message: string) => {
    errors.push({ path, message });
    return { value: undefined, errors, unknownKeys };
  };
  switch (schema.kind) {
    case 'string':
      return typeof value === 'string' ? { value, errors, unknownKeys } : fail(`expected a string, got ${describe(value)}`);
    case 'absolute-path':
      if (typeof value !== 'string') return fail(`expected a string, got ${describe(value)}`);
      return value.startsWith('/') ? { value, errors, unknownKeys } : fail(`expected an absolute path, got "${value}"`);
    case 'boolean':
      return typeof value === 'boolean' ? { value, errors, unknownKeys } : fail(`expected true or false, got ${describe(value)}`);
    case 'integer': {
      const n = typeof value === 'bigint' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) return fail(`expected an integer, got ${describe(value)}`);
      if (n < schema.min || (schema.max !== undefined && n > schema.max)) {
        return fail(`expected an integer from ${schema.min}${schema.max === undefined ? ' up' : ` to ${schema.max}`}, got ${n}`);
      }
      return { value: n, errors, unknownKeys };
    }
    case 'duration': {
      const ms = typeof value === 'string' ? parseDuration(value) : undefined;
      return ms === undefined ? fail(`expected a duration such as "30s" or "24h", got ${describe(value)}`) : { value: ms, errors, unknownKeys };
    }
    case 'enum':
      return typeof value === 'string' && schema.values.includes(value)
        ? { value, errors, unknownKeys }
        : fail(`expected one of ${schema.values.map((v) => `"${v}"`).join(', ')}, got ${describe(value)}`);
    case 'string-list':
      return Array.isArray(value) && value.every((v) => typeof v === 'string')
        ? { value, errors, unknownKeys }
        : fail(`expected a list of strings, got ${describe(value)}`);
    case 'table-list': {
      if (!Array.isArray(value)) return fail(`expected an array of tables ([[...]]), got ${describe(value)}`);
      const items = value.map((item, i) => {
        const checked = checkAgainstSchema(item, schema.item, [...path, String(i)]);
        errors.push(...checked.errors);
        unknownKeys.push(...checked.unknownKeys);
        return checked.value;
      });
      return { value: items, errors, unknownKeys };
    }
    case 'table': {
      if (!isPlainTable(value)) return fail(`expected a table, got ${describe(value)}`);
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(value)) {
        const childSchema = schema.fields?.[key] ?? schema.entries;
        if (!childSchema) {
          unknownKeys.push([...path, key]);
          continue;
        }
        const checked = checkAgainstSchema(child, childSchema, [...path, key]);
        errors.push(...checked.errors);
        unknownKeys.push(...checked.unknownKeys);
        out[key] = checked.value;
      }
      return { value: out, errors, unknownKeys };
    }
  }
}

function isPlainTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'string') return `the string "${value}"`;
  if (typeof value === 'object' && value !== null) return 'a table';
  return `${typeof value} ${String(value)}`;
}
