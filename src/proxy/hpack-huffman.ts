/**
 * The HPACK Huffman code (RFC 7541 Appendix B). The code is canonical: codes of one length are
 * consecutive in symbol order and each length continues where the shorter one ended, so the bit
 * length of each symbol is all the table needs; codes are derived from it below.
 */

/** Code length in bits of symbols 0..255 and EOS (256), 16 per row. */
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;
const MAX_CODE_LENGTH = 30;

interface CanonicalTable {
  /** Symbols sorted by (length, symbol): the order codes are assigned in. */
  symbols: Uint16Array;
  /** Per length: first code of that length, index of its symbol in `symbols`, how many codes. */
  firstCode: Int32Array;
  firstIndex: Int32Array;
  count: Int32Array;
  /** Per symbol: its code (right-aligned). */
  codes: Uint32Array;
}

function buildTable(): CanonicalTable {
  const symbols = Uint16Array.from(CODE_LENGTHS.keys()).sort(
    (a, b) => CODE_LENGTHS[a]! - CODE_LENGTHS[b]! || a - b,
  );
  const firstCode = new Int32Array(MAX_CODE_LENGTH + 1).fill(-1);
  const firstIndex = new Int32Array(MAX_CODE_LENGTH + 1);
  const count = new Int32Array(MAX_CODE_LENGTH + 1);
  const codes = new Uint32Array(CODE_LENGTHS.length);
  let code = 0;
  let length = CODE_LENGTHS[symbols[0]!]!;
  symbols.forEach((symbol, index) => {
    const symbolLength = CODE_LENGTHS[symbol]!;
    code *= 2 ** (symbolLength - length);
    length = symbolLength;
    if (firstCode[length] === -1) {
      firstCode[length] = code;
      firstIndex[length] = index;
    }
    count[length]! += 1;
    codes[symbol] = code;
    code += 1;
  });
  return { symbols, firstCode, firstIndex, count, codes };
}

const TABLE = buildTable();

/** The code of a symbol and its length, for tests and encoders. */
export function huffmanCode(symbol: number): { code: number; length: number } {
  return { code: TABLE.codes[symbol]!, length: CODE_LENGTHS[symbol]! };
}

/**
 * Decodes a Huffman-coded HPACK string literal to a latin1 string (one char per octet).
 * Rejects what RFC 7541 section 5.2 makes a decoding error: EOS in the data, padding longer
 * than 7 bits, padding that is not the most significant bits of EOS (all ones).
 */
export function huffmanDecode(input: Buffer): string {
  // The shortest code is 5 bits, so the output has at most 8/5 as many octets as the input.
  const out = Buffer.allocUnsafe(Math.ceil((input.length * 8) / 5));
  let written = 0;
  let code = 0;
  let length = 0;
  let allOnes = true;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >> bit) & 1;
      code = code * 2 + b;
      length += 1;
      allOnes &&= b === 1;
      const offset = code - TABLE.firstCode[length]!;
      if (TABLE.firstCode[length] !== -1 && offset >= 0 && offset < TABLE.count[length]!) {
        const symbol = TABLE.symbols[TABLE.firstIndex[length]! + offset]!;
        if (symbol === EOS) throw new Error('HPACK Huffman string contains the EOS symbol');
        out[written++] = symbol;
        code = 0;
        length = 0;
        allOnes = true;
      } else if (length >= MAX_CODE_LENGTH) {
        throw new Error('HPACK Huffman string contains an invalid code');
      }
    }
  }
  if (length > 7) throw new Error(`HPACK Huffman string ends with ${length} bits of padding (at most 7 allowed)`);
  if (!allOnes) throw new Error('HPACK Huffman string padding is not a prefix of EOS');
  return out.toString('latin1', 0, written);
}
