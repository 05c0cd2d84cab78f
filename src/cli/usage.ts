/** Raised for wrong command-line words: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const USAGE = `Usage: seccomp-oci-shim <command> [options]

A CRI proxy that applies seccomp profiles from OCI artifacts to Unconfined containers, as
CRI-O's seccomp-profile.kubernetes.cri-o.io annotations do, in front of any CRI runtime.

Commands:
  serve                 Serve CRI on a unix socket and forward every call to the runtime.
  pull REF [-o FILE]    Fetch, verify and validate the seccomp profile an OCI artifact holds
                        (and the SPO base profiles it stacks on).
  push FILE REF         Publish a seccomp profile as an OCI artifact (and sign it).
  gc [--dry-run]        Remove stored profiles and blobs no container uses (serve does it hourly).
  status [--json]       Whether the shim and the runtime answer; the profiles the store holds.
  version               Print the version.
  help                  Print this text.

Options for serve:
  --listen PATH             Socket to serve CRI on
                            (default /run/seccomp-oci-shim/seccomp-oci-shim.sock)
  --runtime-endpoint EP     The runtime's socket, a path or unix:// URL
                            (default unix:///run/containerd/containerd.sock)
  --state-dir DIR           Profiles, blobs and metadata (default /var/lib/seccomp-oci-shim)
  --log-level LEVEL         trace, debug, info, warn, error (default info)

Options for gc and status: those of serve (the same node), and
  --dry-run                 gc: print what would be removed, remove nothing
  --json                    status: one JSON document instead of text

Options for every command:
  --config FILE             Main TOML file (default /etc/seccomp-oci-shim/config.toml)
  --config-dir DIR          TOML drop-ins read after it in lexical order
                            (default /etc/seccomp-oci-shim/config.d)
  -h, --help                Print this text.
  -v, --version             Print the version.

Options for pull:
  -o, --output FILE         Write the profile to FILE (default: standard output)
  --strict                  Accept only KEP-6061 typed artifacts with exactly one layer
  --insecure                Use plain HTTP for the reference's registry
  --state-dir DIR           Where pulled blobs are kept (default /var/lib/seccomp-oci-shim)
  --log-level LEVEL         Log lines on standard error from this level up (default warn)

Options for push:
  --artifact-type           Publish in the OCI 1.1 form: empty config, artifactType set
  --spo                     FILE is a Security Profiles Operator SeccompProfile (YAML):
                            publish it in spoc's layout, which SPO reads as a base profile
  --platform OS/ARCH[/VAR]  With --spo: the platform the layer is bound to
                            (default linux/<this machine's arch>; none: profile.yaml)
  --insecure                Use plain HTTP for the reference's registry
  --sign --key KEY          Sign the pushed digest with a PEM private key: cosign's
                            sha256-<hex>.sig tag and a sigstore bundle referrer
  --log-level LEVEL         Log lines on standard error from this level up (default warn)
`;
