/**
 * A strict RFC 8259 JSON reader for seccomp profiles.
 *
 * Why not JSON.parse: profile arguments are 64-bit unsigned integers that a JS number cannot hold
 * exactly, duplicate keys would let one file mean two things, and JSON.parse's error text differs
 * between Node versions while a rejection here has to name its line and column.
 */

/** A number kept as its literal text, so 64-bit values survive. */
export class JsonNumber {
  constructor(readonly raw: string) {}
}

export type JsonValue = string | boolean | null | JsonNumber | JsonValue[] | JsonObject;
/** Objects keep key order and cannot collide with Object.prototype (`__proto__` is a plain key). */
export type JsonObject = Map<string, JsonValue>;

/** Thrown for text that is not JSON; line and column are 1-based, columns count UTF-16 code units. */
export class JsonSyntaxError extends Error {
  constructor(
    readonly problem: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${problem} at line ${line}, column ${column}`);
    this.name = 'JsonSyntaxError';
  }
}

/** Profiles are flat; a deeper document is hostile or broken, and recursion must stay bounded. */
const MAX_DEPTH = 64;

const NUMBER_PATTERN = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** Parses one JSON document; the text must hold nothing but that document and whitespace. */
export function readJson(text: string): JsonValue {
  const reader = new Reader(text);
  reader.skipWhitespace();
  const value = reader.value(0);
  reader.skipWhitespace();
  if (reader.pos < text.length) reader.fail(`unexpected ${reader.describeHere()} after the document`);
  return value;
}

class Reader {
  pos = 0;

  constructor(private readonly text: string) {}

  fail(problem: string, at = this.pos): never {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at && i < this.text.length; i += 1) {
      if (this.text.charCodeAt(i) === 0x0a) {
        line += 1;
        lineStart = i + 1;
      }
    }
    throw new JsonSyntaxError(problem, line, at - lineStart + 1);
  }

  describeHere(): string {
    if (this.pos >= this.text.length) return 'end of input';
    return `character ${JSON.stringify(this.text[this.pos])}`;
  }

  skipWhitespace(): void {
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos += 1;
      else return;
    }
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels`);
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail(`unexpected ${this.describeHere()}, expected a value`);
    }
  }

  private literal<T>(word: string, result: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`unexpected ${this.describeHere()}, expected a value`);
    this.pos += word.length;
    return result;
  }

  private number(): JsonNumber {
    NUMBER_PATTERN.lastIndex = this.pos;
    const match = NUMBER_PATTERN.exec(this.text);
    if (!match) return this.fail('malformed number');
    this.pos += match[0].length;
    return new JsonNumber(match[0]);
  }

  private string(): string {
    const start = this.pos;
    // Most strings hold no escape and no control character: one slice, not a string built per character.
    const end = this.plainStringEnd(start + 1);
    if (end !== -1) {
      this.pos = end + 1;
      return this.text.slice(start + 1, end);
    }
    this.pos += 1;
    let out = '';
    for (;;) {
      if (this.pos >= this.text.length) this.fail('unterminated string', start);
      const code = this.text.charCodeAt(this.pos);
      if (code === 0x22) {
        this.pos += 1;
        return out;
      }
      if (code < 0x20) this.fail('control character inside a string');
      if (code === 0x5c) {
        out += this.escape();
        continue;
      }
      out += this.text[this.pos];
      this.pos += 1;
    }
  }

  /** The closing quote's index when the string from `from` has no backslash or control character before it, else -1. */
  private plainStringEnd(from: number): number {
    for (let i = from; i < this.text.length; i += 1) {
      const code = this.text.charCodeAt(i);
      if (code === 0x22) return i;
      if (code === 0x5c || code < 0x20) return -1;
    }
    return -1;
  }

  private escape(): string {
    const c = this.text[this.pos + 1];
    const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
    if (c !== undefined && c in simple) {
      this.pos += 2;
      return simple[c] as string;
    }
    if (c === 'u') {
      const hex = this.text.slice(this.pos + 2, this.pos + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('malformed \\u escape');
      this.pos += 6;
      return String.fromCharCode(parseInt(hex, 16));
    }
    return this.fail('unknown escape sequence');
  }

  private array(depth: number): JsonValue[] {
    this.pos += 1;
    const items: JsonValue[] = [];
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos += 1;
      return items;
    }
    for (;;) {
      this.skipWhitespace();
      items.push(this.value(depth + 1));
      this.skipWhitespace();
      const c = this.text[this.pos];
      this.pos += 1;
      if (c === ']') return items;
      if (c !== ',') this.fail(`unexpected ${this.describeBefore()}, expected "," or "]"`, this.pos - 1);
    }
  }

  private object(depth: number): JsonObject {
    this.pos += 1;
    const entries: JsonObject = new Map();
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos += 1;
      return entries;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') this.fail(`unexpected ${this.describeHere()}, expected a string key`);
      const keyAt = this.pos;
      const key = this.string();
      if (entries.has(key)) this.fail(`duplicate key ${JSON.stringify(key)}`, keyAt);
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') this.fail(`unexpected ${this.describeHere()}, expected ":"`);
      this.pos += 1;
      this.skipWhitespace();
      entries.set(key, this.value(depth + 1));
      this.skipWhitespace();
      const c = this.text[this.pos];
      this.pos += 1;
      if (c === '}') return entries;
      if (c !== ',') this.fail(`unexpected ${this.describeBefore()}, expected "," or "}"`, this.pos - 1);
    }
  }

  private describeBefore(): string {
    this.pos -= 1;
    const description = this.describeHere();
    this.pos += 1;
    return description;
  }
}
