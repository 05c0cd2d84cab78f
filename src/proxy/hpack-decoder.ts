import { DEFAULT_HEADER_TABLE_SIZE, MAX_UINT31 } from './frames.js';
import { huffmanDecode } from './hpack-huffman.js';
import { STATIC_TABLE } from './hpack-static-table.js';

/** A decoded header field; names and values are latin1 strings, one char per octet. */
export type HeaderField = readonly [name: string, value: string];

/** The value of the first field named `name` (header names arrive lowercase in HTTP/2). */
export function fieldValue(fields: readonly HeaderField[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i++) if (fields[i]![0] === name) return fields[i]![1];
  return undefined;
}

/** RFC 7541 section 4.1: an entry's size is its octets plus 32. */
const ENTRY_OVERHEAD = 32;
/** Distinct :path encodings remembered; a client calls a few dozen CRI methods at most. */
const PATH_CACHE_ENTRIES = 32;

/**
 * Huffman-coded :path values decoded before, by their encoded octets. Encoders (nghttp2 under
 * grpc-js and grpc-go alike) send :path as a literal without indexing, so every call would
 * otherwise Huffman-decode the same method name and hash a new string to look it up.
 */
class PathCache {
  private readonly encoded: Buffer[] = [];
  private readonly decoded: string[] = [];
  private next = 0;

  get(block: Buffer, start: number, end: number): string | undefined {
    for (let i = 0; i < this.encoded.length; i++) {
      if (sameOctets(this.encoded[i]!, block, start, end)) return this.decoded[i];
    }
    return undefined;
  }

  add(block: Buffer, start: number, end: number, value: string): void {
    this.encoded[this.next] = Buffer.from(block.subarray(start, end));
    this.decoded[this.next] = value;
    this.next = (this.next + 1) % PATH_CACHE_ENTRIES;
  }
}

/** Compared from the end: method paths share their service prefix. */
function sameOctets(known: Buffer, block: Buffer, start: number, end: number): boolean {
  if (known.length !== end - start) return false;
  for (let i = known.length - 1; i >= 0; i--) if (known[i] !== block[start + i]) return false;
  return true;
}

/**
 * An HPACK decoder (RFC 7541) that follows one direction of one connection. It must see every
 * header block of that direction, in order, so its dynamic table stays what the peer's encoder
 * assumes; the proxy forwards the blocks it decodes byte for byte and never re-encodes them.
 */
export class HpackDecoder {
  /** Newest entry last; index 62 is the newest. */
  private dynamic: HeaderField[] = [];
  private size = 0;
  private maxSize: number;
  private readonly paths = new PathCache();
  /** Where decode is in the block, and where the block ends; one decode at a time. */
  private pos = 0;
  private end = 0;

  /**
   * @param maxTableSize the SETTINGS_HEADER_TABLE_SIZE the decoding side advertised; a size update
   *   above it is a decoding error. 4096 is the protocol default.
   * @param tableSize the table's size until the encoder sends a size update (RFC 7541 section
   *   4.2: the encoder changes it only that way); an observer that does not enforce a limit
   *   still needs the size the encoder evicts by, or its table grows with every indexed field.
   */
  constructor(
    private readonly maxTableSize = 4096,
    tableSize = maxTableSize,
  ) {
    this.maxSize = tableSize;
  }

  get dynamicTableSize(): number {
    return this.size;
  }

  /** The dynamic table, newest first, as `[name, value]` pairs (for tests). */
  dynamicEntries(): HeaderField[] {
    return [...this.dynamic].reverse();
  }

  /**
   * Decodes one complete header block (all HEADERS/CONTINUATION fragments joined), or the part
   * of `block` from `start` to `end` (a fragment in place in a received chunk: no copy, no view).
   */
  decode(block: Buffer, start = 0, end = block.length): HeaderField[] {
    const fields: HeaderField[] = [];
    this.pos = start;
    this.end = end;
    let fieldSeen = false;
    while (this.pos < end) {
      const first = block[this.pos]!;
      if (first & 0x80) {
        fields.push(this.entry(this.integer(block, 7)));
        fieldSeen = true;
      } else if (first & 0x40) {
        const field = this.literal(block, 6);
        this.insert(field);
        fields.push(field);
        fieldSeen = true;
      } else if (first & 0x20) {
        // RFC 7541 section 4.2: size updates only at the start of a block.
        if (fieldSeen) throw new Error('HPACK dynamic table size update after a header field');
        const newSize = this.integer(block, 5);
        if (newSize > this.maxTableSize) {
          throw new Error(`HPACK dynamic table size update to ${newSize} exceeds the limit ${this.maxTableSize}`);
        }
        this.maxSize = newSize;
        this.evict(0);
      } else {
        // 0000xxxx without indexing, 0001xxxx never indexed: same layout, no table change.
        fields.push(this.literal(block, 4));
        fieldSeen = true;
      }
    }
    return fields;
  }

  private entry(index: number): HeaderField {
    if (index === 0) throw new Error('HPACK index 0 is not valid');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
    const field = this.dynamic[this.dynamic.length - 1 - (index - STATIC_TABLE.length - 1)];
    if (field === undefined) {
      throw new Error(`HPACK index ${index} is beyond the dynamic table (${this.dynamic.length} entries)`);
    }
    return field;
  }

  private literal(block: Buffer, prefixBits: number): HeaderField {
    const nameIndex = this.integer(block, prefixBits);
    const name = nameIndex === 0 ? this.string(block) : this.entry(nameIndex)[0];
    return [name, this.string(block, name === ':path' ? this.paths : undefined)];
  }

  private insert(field: HeaderField): void {
    const entrySize = field[0].length + field[1].length + ENTRY_OVERHEAD;
    // An entry larger than the table empties it and is not added (RFC 7541 section 4.4).
    this.evict(entrySize);
    if (entrySize <= this.maxSize) {
      this.dynamic.push(field);
      this.size += entrySize;
    }
  }

  /** Evicts oldest entries until `room` more octets fit (or the table is empty). */
  private evict(room: number): void {
    let oldest = 0;
    while (this.size + room > this.maxSize && oldest < this.dynamic.length) {
      const [name, value] = this.dynamic[oldest]!;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
      oldest += 1;
    }
    if (oldest > 0) this.dynamic.splice(0, oldest);
  }

  /** RFC 7541 section 5.1 prefix integer starting in the low `prefixBits` of the current byte. */
  private integer(block: Buffer, prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    let value = block[this.pos]! & mask;
    this.pos += 1;
    if (value < mask) return value;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new Error('HPACK integer runs past the end of the header block');
      const byte = block[this.pos]!;
      this.pos += 1;
      value += (byte & 0x7f) * 2 ** shift;
      // Bounds integers so a malicious encoding cannot loop or overflow (no legitimate value is near).
      if (value > MAX_UINT31) throw new Error('HPACK integer is too large');
      if (!(byte & 0x80)) return value;
      shift += 7;
    }
  }

  /** RFC 7541 section 5.2 string literal: Huffman flag, length, octets. */
  private string(block: Buffer, cache?: PathCache): string {
    if (this.pos >= this.end) throw new Error('HPACK string literal missing at the end of the header block');
    const huffman = (block[this.pos]! & 0x80) !== 0;
    const length = this.integer(block, 7);
    const start = this.pos;
    const end = start + length;
    if (end > this.end) throw new Error(`HPACK string literal of ${length} octets runs past the header block`);
    this.pos = end;
    if (!huffman) return block.toString('latin1', start, end);
    if (cache === undefined) return huffmanDecode(block, start, end);
    let value = cache.get(block, start, end);
    if (value === undefined) {
      value = huffmanDecode(block, start, end);
      cache.add(block, start, end, value);
    }
    return value;
  }
}

/**
 * A decoder for a peer whose table size the other end enforces: the proxy only observes. The
 * table starts at the protocol's 4096 octets, like the other end's, and follows the size updates.
 */
export function observingDecoder(): HpackDecoder {
  return new HpackDecoder(Number.MAX_SAFE_INTEGER, DEFAULT_HEADER_TABLE_SIZE);
}
