import { createLogger } from '../log/logger.js';
import { artifactClientFor, pullVerified, signatureVerifierFor } from '../injector/index.js';
import { parseProfile } from '../seccomp/index.js';
import { answeredHelpOrVersion, loadConfigFromFlags, parseCommandArgs } from './options.js';
import { allowPlainHttpFor } from './registry-flags.js';
import { UsageError } from './usage.js';
import { writeFileAtomically } from '../files/atomic-write.js';

const PULL_OPTIONS = {
  output: { type: 'string', short: 'o' },
  strict: { type: 'boolean' },
  insecure: { type: 'boolean' },
  'state-dir': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

/**
 * `pull REF [-o FILE]`: what the shim does for an annotation, by hand: resolve, fetch, verify
 * under the signature policy, validate. The facts go to standard error, the profile to FILE or
 * standard output.
 */
export async function pull(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, PULL_OPTIONS);
  if (answeredHelpOrVersion(values)) return 0;
  const [reference, ...extra] = positionals;
  if (!reference || extra.length > 0) throw new UsageError('pull takes exactly one reference: pull REF [-o FILE]');
  const { settings } = loadConfigFromFlags(values);
  settings.stateDir = values['state-dir'] ?? settings.stateDir;
  if (values.strict) settings.artifact.mode = 'strict';
  if (values.insecure) allowPlainHttpFor(settings, reference);

  const logger = createLogger({ level: values['log-level'] ?? 'warn' });
  const artifacts = artifactClientFor(settings, logger);
  try {
    const { pulled, verification } = await pullVerified(artifacts, await signatureVerifierFor(settings, artifacts, logger), reference);
    parseProfile(pulled.bytes, reference);
    const facts = [
      `Pulled ${reference}`,
      `Digest: ${pulled.manifestDigest}`,
      `Config media type: ${pulled.configMediaType}`,
      ...(pulled.artifactType ? [`Artifact type: ${pulled.artifactType}`] : []),
      `Layer: ${pulled.layerDigest} ${pulled.layerMediaType}`,
      `Profile size: ${pulled.bytes.length} bytes`,
      `Signature: ${verification.verified ? `verified under rule ${verification.rule}` : `not required (rule ${verification.rule})`}`,
    ];
    if (values.output) {
      await writeFileAtomically(values.output, pulled.bytes);
      facts.push(`Saved profile in: ${values.output}`);
    } else {
      process.stdout.write(pulled.bytes);
    }
    process.stderr.write(`${facts.join('\n')}\n`);
    return 0;
  } finally {
    artifacts.close();
  }
}
