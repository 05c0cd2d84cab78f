/**
 * Finds the line (1-based) where a key is set in a TOML document, so a wrong type can be
 * reported as file:line. TOML parsers return values without positions; this scan follows table
 * headers, arrays of tables (`[[x]]` is element 0, 1, ... of `x`) and dotted keys well enough for
 * configuration files. A path inside an inline value (`identities = [{ ... }]`) is answered with
 * the line of the key that holds it; undefined when unsure.
 */
export function locateKey(source: string, path: readonly string[]): number | undefined {
  for (let length = path.length; length > 0; length--) {
    const line = locateExactKey(source, path.slice(0, length));
    if (line !== undefined) return line;
  }
  return undefined;
}

function locateExactKey(source: string, path: readonly string[]): number | undefined {
  const lines = source.split('\n');
  const arrayElements = new Map<string, number>();
  let table: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    const header = line.match(/^(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/);
    if (header) {
      table = splitDotted(header[2] ?? '');
      if (header[1] === '[[') {
        const key = table.join('.');
        const index = arrayElements.get(key) ?? 0;
        arrayElements.set(key, index + 1);
        table = [...table, String(index)];
      }
      if (samePath(table, path)) return i + 1;
      continue;
    }
    const assignment = line.match(/^((?:"[^"]*"|'[^']*'|[A-Za-z0-9_.\- ])+?)\s*=/);
    if (!assignment) continue;
    if (samePath([...table, ...splitDotted(assignment[1] ?? '')], path)) return i + 1;
  }
  return undefined;
}

function splitDotted(key: string): string[] {
  const parts: string[] = [];
  const re = /\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(?:\.|$)/gy;
  let match: RegExpExecArray | null;
  while ((match = re.exec(key)) !== null && match[0] !== '') parts.push(match[1] ?? match[2] ?? match[3] ?? '');
  return parts;
}

function samePath(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}
