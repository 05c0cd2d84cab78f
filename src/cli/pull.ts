import { createLogger } from '../log/logger.js';
import { artifactClientFor, pullVerified, signatureVerifierFor } from '../injector/index.js';
import { createChainResolver, formatChain } from '../injector/profile-chain.js';
import { parseProfile, renderSpoProfile } from '../seccomp/index.js';
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
 * under the signature policy, validate, and stack SPO base profiles. The facts go to standard
 * error; the profile (a CRI-O artifact's document as published, or an SPO profile merged with its
 * bases as runtime-spec JSON) to FILE or standard output.
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
    const signatures = await signatureVerifierFor(settings, artifacts, logger);
    const chain = await createChainResolver((ref, signal) => pullVerified(artifacts, signatures, ref, signal), 1)(reference);
    const [head, ...bases] = chain.links;
    if (!head) throw new Error('a chain has at least one link');
    const { pulled, verification } = head;
    const facts = [
      `Pulled ${reference}`,
      `Digest: ${pulled.manifestDigest}`,
      `Config media type: ${pulled.configMediaType}`,
      ...(pulled.artifactType ? [`Artifact type: ${pulled.artifactType}`] : []),
      `Layer: ${pulled.layerDigest} ${pulled.layerMediaType}`,
      `Profile size: ${pulled.bytes.length} bytes`,
      `Signature: ${verification.verified ? `verified under rule ${verification.rule}` : `not required (rule ${verification.rule})`}`,
      ...(head.format === 'spo' ? [`Format: Security Profiles Operator SeccompProfile${head.name ? ` "${head.name}"` : ''}`] : []),
      ...bases.map((base, i) => `Base profile ${i + 1}: ${base.reference}@${base.digest}${base.name ? ` (SeccompProfile "${base.name}")` : ''}, signature ${base.verification.verified ? `verified under rule ${base.verification.rule}` : `not required (rule ${base.verification.rule})`}`),
      ...(bases.length > 0 ? [`Chain: ${formatChain(chain.links)}`] : []),
    ];
    // A CRI-O JSON profile is checked as the shim would read it, and saved as published.
    if ('bytes' in chain.source) parseProfile(chain.source.bytes, reference);
    const profile = 'profile' in chain.source ? renderSpoProfile(chain.source.profile) : pulled.bytes;
    if (values.output) {
      await writeFileAtomically(values.output, profile);
      facts.push(`Saved profile in: ${values.output}`);
    } else {
      process.stdout.write(profile);
    }
    process.stderr.write(`${facts.join('\n')}\n`);
    return 0;
  } finally {
    artifacts.close();
  }
}
