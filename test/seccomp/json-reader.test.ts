import { describe, expect, it } from 'vitest';
import { JsonNumber, JsonSyntaxError, readJson } from '../../src/seccomp/json-reader.js';

function syntaxError(text: string): JsonSyntaxError {
  try {
    readJson(text);
  } catch (error) {
    if (error instanceof JsonSyntaxError) return error;
    throw error;
  }
  throw new Error(`expected a syntax error for ${JSON.stringify(text)}`);
}

describe('readJson', () => {
  it('reads objects as ordered maps and keeps numbers as their literal text', () => {
    const value = readJson('{"b": [1, -2.5e3, true, false, null], "a": "x\\u00e9\\n"}');
    expect(value).toBeInstanceOf(Map);
    const map = value as Map<string, unknown>;
    expect([...map.keys()]).toEqual(['b', 'a']);
    expect(map.get('b')).toEqual([new JsonNumber('1'), new JsonNumber('-2.5e3'), true, false, null]);
    expect(map.get('a')).toBe('x\u00e9\n');
  });

  it('keeps a 64-bit integer exactly, which JSON.parse cannot', () => {
    const value = readJson('[18446744073709551615]') as JsonNumber[];
    expect(value[0]?.raw).toBe('18446744073709551615');
    expect(String(JSON.parse('[18446744073709551615]')[0])).not.toBe('18446744073709551615');
  });

  it('treats __proto__ as an ordinary key', () => {
    const map = readJson('{"__proto__": {"polluted": true}}') as Map<string, unknown>;
    expect(map.get('__proto__')).toBeInstanceOf(Map);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['{"a": 1,}', 'unexpected character "}", expected a string key', 1, 9],
    ['{\n  "a": 1\n  "b": 2\n}', 'unexpected character "\\"", expected "," or "}"', 3, 3],
    ['{"a": tru}', 'unexpected character "t", expected a value', 1, 7],
    ['{"a": "open', 'unterminated string', 1, 7],
    ['{"a": 1} x', 'unexpected character "x" after the document', 1, 10],
    ['', 'unexpected end of input, expected a value', 1, 1],
    ['{"a": 01}', 'unexpected character "1", expected "," or "}"', 1, 8],
    ['{"a": "\\x"}', 'unknown escape sequence', 1, 8],
    ['{"a": 1, "a": 2}', 'duplicate key "a"', 1, 10],
  ])('rejects %j with its line and column', (text, problem, line, column) => {
    const error = syntaxError(text);
    expect(error.problem).toBe(problem);
    expect([error.line, error.column]).toEqual([line, column]);
  });

  it('bounds nesting depth instead of overflowing the stack', () => {
    expect(syntaxError('['.repeat(100_000)).problem).toBe('nesting deeper than 64 levels');
  });
});
