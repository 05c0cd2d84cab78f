import { readFile } from 'node:fs/promises';
import { parseReference } from '../artifact/index.js';
import { createLogger } from '../log/logger.js';
import { artifactClientFor } from '../injector/index.js';
import { parseProfile } from '../seccomp/index.js';
import { registrySignatureSource, signArtifact } from '../signature/index.js';
import { answeredHelpOrVersion, loadConfigFromFlags, parseCommandArgs } from './options.js';
import { allowPlainHttpFor } from './registry-flags.js';
import { UsageError } from './usage.js';

const PUSH_OPTIONS = {
  'artifact-type': { type: 'boolean' },
  insecure: { type: 'boolean' },
  sign: { type: 'boolean' },
  key: { type: 'string' },
  'log-level': { type: 'string' },
} as const;

/**
 * `push FILE REF`: publish a profile in the shape runtimes expect, after checking that it is a
 * profile they will accept; with `--sign --key KEY`, sign the pushed digest in the same step.
 */
export async function push(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, PUSH_OPTIONS);
  if (answeredHelpOrVersion(values)) return 0;
  const [file, reference, ...extra] = positionals;
  if (!file || !reference || extra.length > 0) throw new UsageError('push takes a file and a reference: push FILE REF');
  if (values.sign && !values.key) throw new UsageError('--sign needs --key KEY (a PEM private key)');
  const { settings } = loadConfigFromFlags(values);
  if (values.insecure) allowPlainHttpFor(settings, reference);

  parseProfile(await readFile(file), file);
  const logger = createLogger({ level: values['log-level'] ?? 'warn' });
  const artifacts = artifactClientFor(settings, logger);
  try {
    const pushed = await artifacts.push({
      profile: { file },
      reference,
      form: values['artifact-type'] ? 'artifactType' : 'config',
    });
    process.stdout.write(`Pushed ${pushed.reference}\nDigest: ${pushed.digest}\n`);
    if (values.sign && values.key) {
      const { registry, repository } = parseReference(reference);
      const signed = await signArtifact({
        client: registrySignatureSource(artifacts.registry),
        registry,
        repository,
        digest: pushed.digest,
        privateKeyPem: await readFile(values.key),
      });
      if (signed.signatureTag) process.stdout.write(`Signature: ${registry}/${repository}:${signed.signatureTag}\n`);
      if (signed.bundleManifestDigest) process.stdout.write(`Sigstore bundle referrer: ${signed.bundleManifestDigest}\n`);
    }
    return 0;
  } finally {
    artifacts.close();
  }
}
