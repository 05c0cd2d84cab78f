import { readFile } from 'node:fs/promises';
import { nodePlatform, parseReference, pushSpoProfile, type SpoLayer } from '../artifact/index.js';
import { createLogger } from '../log/logger.js';
import { artifactClientFor } from '../injector/index.js';
import { parseProfile, parseSpoProfile } from '../seccomp/index.js';
import { registrySignatureSource, signArtifact } from '../signature/index.js';
import { answeredHelpOrVersion, loadConfigFromFlags, parseCommandArgs } from './options.js';
import { allowPlainHttpFor } from './registry-flags.js';
import { UsageError } from './usage.js';

const PUSH_OPTIONS = {
  'artifact-type': { type: 'boolean' },
  spo: { type: 'boolean' },
  platform: { type: 'string' },
  insecure: { type: 'boolean' },
  sign: { type: 'boolean' },
  key: { type: 'string' },
  'log-level': { type: 'string' },
} as const;

/**
 * `push FILE REF`: publish a profile in the shape runtimes expect, after checking that it is a
 * profile they will accept; with `--sign --key KEY`, sign the pushed digest in the same step.
 * `--spo` publishes a Security Profiles Operator SeccompProfile in spoc's layout instead.
 */
export async function push(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, PUSH_OPTIONS);
  if (answeredHelpOrVersion(values)) return 0;
  const [file, reference, ...extra] = positionals;
  if (!file || !reference || extra.length > 0) throw new UsageError('push takes a file and a reference: push FILE REF');
  if (values.sign && !values.key) throw new UsageError('--sign needs --key KEY (a PEM private key)');
  if (values.platform !== undefined && !values.spo) throw new UsageError('--platform is for --spo');
  if (values.spo && values['artifact-type']) throw new UsageError('--spo and --artifact-type are two different layouts: choose one');
  const { settings } = loadConfigFromFlags(values);
  if (values.insecure) allowPlainHttpFor(settings, reference);

  const bytes = await readFile(file);
  if (values.spo) parseSpoProfile(bytes, file);
  else parseProfile(bytes, file);
  const logger = createLogger({ level: values['log-level'] ?? 'warn' });
  const artifacts = artifactClientFor(settings, logger);
  try {
    const pushed = values.spo
      ? await pushSpoProfile(artifacts.registry, { reference, layers: [spoLayer(bytes, values.platform)] })
      : await artifacts.push({ profile: { file }, reference, form: values['artifact-type'] ? 'artifactType' : 'config' });
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

/** spoc's default platform is the machine's OS and architecture; `none` publishes SPO's unbound `profile.yaml`. */
function spoLayer(profile: Buffer, platform: string | undefined): SpoLayer {
  if (platform === 'none') return { profile };
  if (platform === undefined) return { profile, platform: { os: 'linux', architecture: nodePlatform().architecture } };
  const match = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?(?::(.+))?$/.exec(platform);
  if (!match?.[1] || !match[2]) throw new UsageError(`--platform ${platform}: expected OS/ARCH[/VARIANT][:OSVERSION], like linux/amd64, or none`);
  return { profile, platform: { os: match[1], architecture: match[2], ...(match[3] ? { variant: match[3] } : {}), ...(match[4] ? { osVersion: match[4] } : {}) } };
}
