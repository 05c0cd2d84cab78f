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

/** Each symbol's code (right-aligned), assigned in (length, symbol) order as a canonical code is. */
function canonicalCodes(): Uint32Array {
  const order = [...CODE_LENGTHS.keys()].sort((a, b) => CODE_LENGTHS[a]! - CODE_LENGTHS[b]! || a - b);
  const codes = new Uint32Array(CODE_LENGTHS.length);
  let code = 0;
  let length = CODE_LENGTHS[order[0]!]!;
  for (const symbol of order) {
    code *= 2 ** (CODE_LENGTHS[symbol]! - length);
    length = CODE_LENGTHS[symbol]!;
    codes[symbol] = code;
    code += 1;
  }
  return codes;
}

const CODES = canonicalCodes();

/** The code of a symbol and its length, for tests and encoders. */
export function huffmanCode(symbol: number): { code: number; length: number } {
  return { code: CODES[symbol]!, length: CODE_LENGTHS[symbol]! };
}

/**
 * A nibble-at-a-time decoding automaton over the code tree (states are the tree's inner nodes,
 * the root is state 0): for each state and 4 input bits, the state after them and the symbol
 * completed on the way, if any (codes are at least 5 bits long, so at most one).
 */
interface Automaton {
  next: Uint16Array;
  /** Symbol emitted on the transition, -1 for none, -2 when the bits spell EOS. */
  emit: Int16Array;
  /** Per state: the bits since the last symbol are all ones and at most 7 (valid padding). */
  padding: Uint8Array;
}

function buildAutomaton(): Automaton {
  // Inner nodes: children[2n] / children[2n+1]; values >= 0 are inner nodes, < 0 are leaves (-1 - symbol).
  const children: number[] = [0, 0];
  const depth: number[] = [0];
  const ones: boolean[] = [true];
  const fresh = (): number => {
    children.push(0, 0);
    return depth.length;
  };
  CODE_LENGTHS.forEach((length, symbol) => {
    const code = CODES[symbol]!;
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const b = Math.floor(code / 2 ** bit) % 2;
      const slot = 2 * node + b;
      if (bit === 0) {
        children[slot] = -1 - symbol;
      } else {
        if (children[slot] === 0) {
          const inner = fresh();
          depth.push(depth[node]! + 1);
          ones.push(ones[node]! && b === 1);
          children[slot] = inner;
        }
        node = children[slot]!;
      }
    }
  });
  const states = depth.length;
  const next = new Uint16Array(states * 16);
  const emit = new Int16Array(states * 16).fill(-1);
  const padding = new Uint8Array(states);
  for (let state = 0; state < states; state++) {
    padding[state] = ones[state]! && depth[state]! <= 7 ? 1 : 0;
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      for (let bit = 3; bit >= 0; bit--) {
        const child = children[2 * node + ((nibble >> bit) & 1)]!;
        if (child >= 0) {
          node = child;
          continue;
        }
        const symbol = -1 - child;
        emit[state * 16 + nibble] = symbol === EOS ? -2 : symbol;
        node = 0;
      }
      next[state * 16 + nibble] = node;
    }
  }
  return { next, emit, padding };
}

const AUTOMATON = buildAutomaton();

/** Decoded octets are collected here before becoming one flat string (no per-character concatenation). */
let scratch = Buffer.allocUnsafe(256);

/**
 * Decodes the Huffman-coded HPACK string literal in bytes `start` to `end` of `input` to a latin1
 * string (one char per octet).
 * Rejects what RFC 7541 section 5.2 makes a decoding error: EOS in the data, padding longer
 * than 7 bits, padding that is not the most significant bits of EOS (all ones).
 */
export function huffmanDecode(input: Buffer, start = 0, end = input.length): string {
  const { next, emit, padding } = AUTOMATON;
  // The shortest code is 5 bits, so n octets decode to at most 8n/5 symbols.
  const most = Math.ceil(((end - start) * 8) / 5);
  if (scratch.length < most) scratch = Buffer.allocUnsafe(most);
  let length = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const byte = input[i]!;
    for (let shift = 4; shift >= 0; shift -= 4) {
      const index = state * 16 + ((byte >> shift) & 0x0f);
      const symbol = emit[index]!;
      if (symbol === -2) throw new Error('HPACK Huffman string contains the EOS symbol');
      if (symbol >= 0) scratch[length++] = symbol;
      state = next[index]!;
    }
  }
  if (state !== 0 && !padding[state]) {
    throw new Error('HPACK Huffman string ends with padding that is not at most 7 one-bits (a prefix of EOS)');
  }
  return scratch.toString('latin1', 0, length);
}
