import { describe, expect, it } from 'vitest';
import { bounded, boundLogLine, MAX_LOG_LINE_CHARS } from '../../src/log/bounded.js';
import { createLogger } from '../../src/log/logger.js';

describe('bounded', () => {
  it('keeps a short value and cuts a long one, saying how much it cut', () => {
    expect(bounded('abc', 3)).toBe('abc');
    expect(bounded('abcdef', 3)).toBe('abc...[3 more characters]');
  });
});

describe('the logger', () => {
  const capture = () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void lines.push(line) } });
    return { lines, logger };
  };

  it('writes no line over 16 KiB: long fields are cut, the rest of the event stays', () => {
    const { lines, logger } = capture();
    logger.child({ id: 'r-1', name: '/runtime.v1.RuntimeService/CreateContainer' }).warn({ value: 'v'.repeat(600_000), small: 'kept' }, 'm'.repeat(20_000));
    expect(lines).toHaveLength(1);
    const line = lines[0] as string;
    expect(line.length).toBeLessThanOrEqual(MAX_LOG_LINE_CHARS);
    expect(line.endsWith('}\n')).toBe(true);
    expect(JSON.parse(line)).toMatchObject({
      level: 40,
      id: 'r-1',
      name: '/runtime.v1.RuntimeService/CreateContainer',
      small: 'kept',
      value: `${'v'.repeat(1024)}...[${600_000 - 1024} more characters]`,
      truncatedFromChars: expect.any(Number),
    });
  });

  it('falls back to the level, ids and message when even the cut fields are too many', () => {
    const fields = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`f${i}`, 'x'.repeat(2000)]));
    expect(boundLogLine(`${JSON.stringify({ level: 30, id: 'r-2', msg: 'event', ...fields })}\n`)).toBe(
      `${JSON.stringify({ level: 30, id: 'r-2', msg: 'event', truncatedFromChars: JSON.stringify({ level: 30, id: 'r-2', msg: 'event', ...fields }).length + 1 })}\n`,
    );
  });

  it('puts one name key on a line: the CRI method of the call, none of its own', () => {
    const { lines, logger } = capture();
    logger.info('start');
    logger.child({ id: 'r-3', name: '/runtime.v1.RuntimeService/CreateContainer' }).info('call');
    expect(lines[0]?.match(/"name":/g) ?? []).toHaveLength(0);
    expect(lines[1]?.match(/"name":/g)).toHaveLength(1);
  });
});
