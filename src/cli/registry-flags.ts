import { parseReference } from '../artifact/index.js';
import type { ShimSettings } from '../config/index.js';

/** `--insecure` on the command line: plain HTTP for the one registry the reference names. */
export function allowPlainHttpFor(settings: ShimSettings, reference: string): void {
  const { registry } = parseReference(reference);
  settings.registries[registry] = { mirrors: [], ...settings.registries[registry], insecure: true };
}
