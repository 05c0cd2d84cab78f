import { STATIC_TABLE } from './hpack-static-table.js';

/**
 * Encodes header fields with HPACK "literal header field without indexing" only (RFC 7541
 * section 6.2.2), raw octets, no Huffman. Such a block leaves the receiver's dynamic table
 * untouched, so the proxy can slip its own header blocks in between the runtime's without the
 * client's decoder drifting from the runtime's encoder.
 */
export function encodeLiteralHeaders(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const nameIndex = STATIC_TABLE.findIndex(([staticName]) => staticName === name) + 1;
    if (nameIndex > 0) {
      parts.push(encodeInteger(nameIndex, 4, 0x00));
    } else {
      parts.push(Buffer.of(0x00), encodeString(name));
    }
    parts.push(encodeString(value));
  }
  return Buffer.concat(parts);
}

function encodeString(value: string): Buffer {
  const octets = Buffer.from(value, 'latin1');
  return Buffer.concat([encodeInteger(octets.length, 7, 0x00), octets]);
}

/** RFC 7541 section 5.1 integer with an N-bit prefix; `pattern` fills the bits above the prefix. */
export function encodeInteger(value: number, prefixBits: number, pattern: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.of(pattern | value);
  const bytes = [pattern | max];
  let rest = value - max;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}
