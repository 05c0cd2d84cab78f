/**
 * Request values (annotation values, references, container names) come from anyone who may
 * create a pod. Wherever the shim logs or returns one, it is cut to a documented maximum and
 * says how much it cut, so a 200 KB annotation cannot become a 600 KB log line or error.
 */

/** Characters of one request value kept in a log field or an error message. */
export const MAX_VALUE_CHARS = 512;
/** Characters of an error's cause kept in a CRI error message (it may quote a value or two). */
export const MAX_CAUSE_CHARS = 2048;
/** No log line is longer than this many characters. */
export const MAX_LOG_LINE_CHARS = 16 * 1024;

/** `value`, or its first `max` characters followed by how many were cut. */
export function bounded(value: string, max: number = MAX_VALUE_CHARS): string {
  if (value.length <= max) return value;
  return `${value.slice(0, max)}...[${value.length - max} more characters]`;
}

/** Every string in a JSON value bounded, for a log line that came out too long. */
function boundStrings(value: unknown, max: number): unknown {
  if (typeof value === 'string') return bounded(value, max);
  if (Array.isArray(value)) return value.map((item) => boundStrings(item, max));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [bounded(key, max), boundStrings(item, max)]));
  }
  return value;
}

/**
 * A serialized log line within MAX_LOG_LINE_CHARS: as it is when short, else with its strings
 * cut, else (many long fields) its level, time, ids and message only. Keeps the trailing newline.
 */
export function boundLogLine(line: string): string {
  if (line.length <= MAX_LOG_LINE_CHARS) return line;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${line.slice(0, MAX_LOG_LINE_CHARS - 1)}\n`;
  }
  const cut = { ...(boundStrings(record, 1024) as Record<string, unknown>), truncatedFromChars: line.length };
  const text = JSON.stringify(cut);
  if (text.length < MAX_LOG_LINE_CHARS) return `${text}\n`;
  const { level, time, pid, name, id, msg } = record;
  return `${JSON.stringify({ level, time, pid, name, id, msg: bounded(String(msg ?? ''), 1024), truncatedFromChars: line.length })}\n`;
}
