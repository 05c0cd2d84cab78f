import { readFileSync } from 'node:fs';

/** The package version, read from package.json so there is one place to bump it. */
export function shimVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}
