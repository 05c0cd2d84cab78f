import { describe, expect, it } from 'vitest';
import { HpackDecoder } from '../../src/proxy/hpack-decoder.js';
import { encodeInteger, encodeLiteralHeaders } from '../../src/proxy/hpack-encoder.js';
import { huffmanCode, huffmanDecode } from '../../src/proxy/hpack-huffman.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Vectors: RFC 7541 Appendix C.
describe('HPACK integers and literals (C.1, C.2)', () => {
  it('encodes the C.1 integer examples', () => {
    expect(encodeInteger(10, 5, 0)).toEqual(hex('0a'));
    expect(encodeInteger(1337, 5, 0)).toEqual(hex('1f9a0a'));
    expect(encodeInteger(42, 8, 0)).toEqual(hex('2a'));
  });

  it('decodes the C.2 single-field examples', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'))).toEqual([
      ['custom-key', 'custom-header'],
    ]);
    expect(d.dynamicTableSize).toBe(55);
    const e = new HpackDecoder();
    expect(e.decode(hex('040c 2f73 616d 706c 652f 7061 7468'))).toEqual([[':path', '/sample/path']]);
    expect(e.dynamicTableSize).toBe(0);
    expect(e.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'))).toEqual([['password', 'secret']]);
    expect(e.dynamicTableSize).toBe(0);
    expect(e.decode(hex('82'))).toEqual([[':method', 'GET']]);
  });
});

describe('HPACK request sequences (C.3 plain, C.4 Huffman)', () => {
  const expected = [
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
    [
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ],
  ];
  const sizes = [57, 110, 164];

  it.each([
    [
      'C.3',
      [
        '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        '8286 84be 5808 6e6f 2d63 6163 6865',
        '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
      ],
    ],
    [
      'C.4',
      [
        '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
        '8286 84be 5886 a8eb 1064 9cbf',
        '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
      ],
    ],
  ])('%s decodes with one decoder across blocks', (_name, blocks) => {
    const d = new HpackDecoder();
    blocks.forEach((block, i) => {
      expect(d.decode(hex(block))).toEqual(expected[i]);
      expect(d.dynamicTableSize).toBe(sizes[i]);
    });
    expect(d.dynamicEntries()).toEqual([
      ['custom-key', 'custom-value'],
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ]);
  });
});

describe('HPACK response sequences with eviction (C.5 plain, C.6 Huffman, 256-octet table)', () => {
  const expected = [
    [[':status', '302'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com']],
    [[':status', '307'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com']],
    [
      [':status', '200'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
      ['location', 'https://www.example.com'],
      ['content-encoding', 'gzip'],
      ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
    ],
  ];
  const sizes = [222, 222, 215];

  it.each([
    [
      'C.5',
      [
        `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
         2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
        '4803 3330 37c1 c0bf',
        `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
         54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
         5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
      ],
    ],
    [
      'C.6',
      [
        `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
         2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
        '4883 640e ffc1 c0bf',
        `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
         77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
         9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
      ],
    ],
  ])('%s decodes and evicts like the RFC', (_name, blocks) => {
    const d = new HpackDecoder(256);
    blocks.forEach((block, i) => {
      expect(d.decode(hex(block))).toEqual(expected[i]);
      expect(d.dynamicTableSize).toBe(sizes[i]);
    });
    expect(d.dynamicEntries()).toEqual([
      ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
      ['content-encoding', 'gzip'],
      ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
    ]);
  });
});

describe('HPACK dynamic table size updates and errors', () => {
  it('applies a size update at the start of a block and evicts', () => {
    const d = new HpackDecoder();
    d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
    expect(d.decode(hex('20 82'))).toEqual([[':method', 'GET']]);
    expect(d.dynamicTableSize).toBe(0);
    expect(d.dynamicEntries()).toEqual([]);
  });

  it('rejects a size update after a field, above the limit, and bad indexes', () => {
    expect(() => new HpackDecoder().decode(hex('82 20'))).toThrow('size update after a header field');
    expect(() => new HpackDecoder().decode(hex('3fe21f'))).toThrow('exceeds the limit 4096');
    expect(() => new HpackDecoder().decode(hex('80'))).toThrow('index 0');
    expect(() => new HpackDecoder().decode(hex('be'))).toThrow('beyond the dynamic table');
    expect(() => new HpackDecoder().decode(hex('400a 6375'))).toThrow('runs past the header block');
  });
});

describe('a header block decoded in place, inside the chunk it arrived in', () => {
  // Frame bytes on both sides of the fragment, as in a chunk read from a socket.
  const before = hex('0000 0401 0000 0001');
  const after = hex('0000 0500 0100 0000 01');
  const inChunk = (block: Buffer): [Buffer, number, number] => [
    Buffer.concat([before, block, after]),
    before.length,
    before.length + block.length,
  ];

  it('decodes the range to what the fragment alone decodes to', () => {
    const block = hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff');
    expect(new HpackDecoder().decode(...inChunk(block))).toEqual(new HpackDecoder().decode(block));
  });

  it('never reads past the end of the range into the next frame', () => {
    // A 10-octet literal whose last octets would be the next frame's bytes.
    expect(() => new HpackDecoder().decode(...inChunk(hex('400a 6375')))).toThrow('runs past the header block');
    // An integer whose continuation octets would be the next frame's bytes.
    expect(() => new HpackDecoder().decode(...inChunk(hex('3f')))).toThrow('HPACK integer runs past the end');
    // A literal name with no value left inside the range.
    expect(() => new HpackDecoder().decode(...inChunk(hex('4001 61')))).toThrow('string literal missing');
  });
});

describe('HPACK Huffman code', () => {
  it('derives the Appendix B codes from the code lengths', () => {
    expect(huffmanCode(0x30)).toEqual({ code: 0x0, length: 5 }); // '0'
    expect(huffmanCode(0x20)).toEqual({ code: 0x14, length: 6 }); // ' '
    expect(huffmanCode(0x3a)).toEqual({ code: 0x5c, length: 7 }); // ':'
    expect(huffmanCode(0)).toEqual({ code: 0x1ff8, length: 13 });
    expect(huffmanCode(10)).toEqual({ code: 0x3ffffffc, length: 30 });
    expect(huffmanCode(255)).toEqual({ code: 0x3ffffee, length: 26 });
    expect(huffmanCode(256)).toEqual({ code: 0x3fffffff, length: 30 }); // EOS
  });

  it('decodes every byte value through a round trip', () => {
    const all = Buffer.from([...Array(256).keys()]);
    expect(huffmanDecode(huffmanEncode(all))).toBe(all.toString('latin1'));
  });

  it('rejects padding that is too long or not all ones, and EOS in the data', () => {
    // 8 one-bits of padding (too long), then 5 zero-bits spelling '0' and 3 zero-bits of padding.
    expect(() => huffmanDecode(hex('ff'))).toThrow('padding that is not at most 7 one-bits');
    expect(() => huffmanDecode(hex('00'))).toThrow('padding that is not at most 7 one-bits');
    expect(huffmanDecode(hex('07'))).toBe('0');
    expect(() => huffmanDecode(hex('ffff ffff'))).toThrow('EOS');
  });
});

describe('Huffman-coded :path values', () => {
  /** :path (static name 4) as a literal, Huffman-coded; with incremental indexing when `indexed`. */
  const pathField = (path: string, indexed = false): Buffer => {
    const octets = huffmanEncode(Buffer.from(path, 'latin1'));
    return Buffer.concat([encodeInteger(4, indexed ? 6 : 4, indexed ? 0x40 : 0x00), encodeInteger(octets.length, 7, 0x80), octets]);
  };

  it('decodes repeated and same-length paths each to its own value, and sizes table entries exactly', () => {
    const d = new HpackDecoder();
    const version = '/runtime.v1.RuntimeService/Version';
    const sameLength = '/runtime.v1.RuntimeService/VersioN';
    expect(huffmanEncode(Buffer.from(version)).length).toBe(huffmanEncode(Buffer.from(sameLength)).length);
    for (let round = 0; round < 3; round++) {
      expect(d.decode(pathField(version))).toEqual([[':path', version]]);
      expect(d.decode(pathField(sameLength))).toEqual([[':path', sameLength]]);
    }
    // More distinct paths than the decoder remembers, then the first ones again.
    const many = Array.from({ length: 40 }, (_, i) => `/svc/Method${i}`);
    for (const path of [...many, ...many]) expect(d.decode(pathField(path))).toEqual([[':path', path]]);
    expect(d.dynamicTableSize).toBe(0);
    expect(d.decode(pathField(version, true))).toEqual([[':path', version]]);
    expect(d.dynamicEntries()).toEqual([[':path', version]]);
    expect(d.dynamicTableSize).toBe(':path'.length + version.length + 32);
  });
});

describe('a decoder that observes without enforcing a limit', () => {
  /** Literal with incremental indexing, new name, raw octets. */
  const indexedLiteral = (name: string, value: string): Buffer =>
    Buffer.concat([Buffer.of(0x40), encodeInteger(name.length, 7, 0), Buffer.from(name), encodeInteger(value.length, 7, 0), Buffer.from(value)]);

  it('evicts by the table size the encoder uses, so its table stays bounded', () => {
    const d = new HpackDecoder(Number.MAX_SAFE_INTEGER, 4096);
    for (let i = 0; i < 500; i++) {
      // The new entry, then the same entry by index (62, the newest).
      const block = Buffer.concat([indexedLiteral('grpc-timeout', `${i}m`), Buffer.of(0xbe)]);
      expect(d.decode(block)).toEqual([['grpc-timeout', `${i}m`], ['grpc-timeout', `${i}m`]]);
    }
    expect(d.dynamicTableSize).toBeLessThanOrEqual(4096);
    expect(d.dynamicTableSize).toBeGreaterThan(4096 - 60);
  });

  it('keeps an entry larger than 4096 octets only after the encoder raised the size', () => {
    const big = indexedLiteral('x', 'v'.repeat(5000));
    const d = new HpackDecoder(Number.MAX_SAFE_INTEGER, 4096);
    d.decode(big);
    expect(d.dynamicTableSize).toBe(0);
    // Size update to 8000 octets (001 prefix, 5-bit integer 31 + 7969).
    d.decode(Buffer.concat([hex('3fa13e'), big]));
    expect(d.dynamicTableSize).toBe(1 + 5000 + 32);
  });
});

describe('literal-only encoder', () => {
  it('produces blocks that decode to the fields and leave the dynamic table empty', () => {
    const fields: Array<[string, string]> = [
      [':status', '200'],
      ['content-type', 'application/grpc'],
      ['grpc-status', '14'],
      ['grpc-message', 'x'.repeat(300)],
    ];
    const block = encodeLiteralHeaders(fields);
    const d = new HpackDecoder();
    expect(d.decode(block)).toEqual(fields);
    expect(d.dynamicTableSize).toBe(0);
    // ':status' is static entry 8: literal without indexing, indexed name 0000 1000.
    expect(block[0]).toBe(0x08);
  });
});

/** Test-side encoder from the same table, to round-trip the decoder. */
function huffmanEncode(input: Buffer): Buffer {
  let bits = '';
  for (const byte of input) {
    const { code, length } = huffmanCode(byte);
    bits += code.toString(2).padStart(length, '0');
  }
  bits += '1'.repeat((8 - (bits.length % 8)) % 8);
  const out = Buffer.alloc(bits.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(bits.slice(8 * i, 8 * i + 8), 2);
  return out;
}
