/**
 * The container's capability set, which decides the `includes.caps`/`excludes.caps` rules.
 *
 * containers/common compares those rules with the spec's bounding set; containerd and CRI-O write
 * the same list to bounding, effective and permitted, so the result here is that one list.
 */

/** containerd 1.6's default set for CRI containers (its `oci` package's default Unix capabilities). */
export const CONTAINERD_DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

/** CRI-O's `default_capabilities` when its configuration does not set them. */
export const CRIO_DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_KILL',
]);

/**
 * Every Linux capability up to CAP_CHECKPOINT_RESTORE (40, Linux 5.9), in number order: what "ALL"
 * adds unless the caller passes the node's own list.
 */
export const ALL_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
]);

/** CRI's `Capability` message as protobufjs decodes it (snake_case; absent lists may be null). */
export interface CriCapability {
  add_capabilities?: readonly string[] | null;
  drop_capabilities?: readonly string[] | null;
  add_ambient_capabilities?: readonly string[] | null;
}

/** The part of CRI's `LinuxContainerSecurityContext` capabilities depend on. */
export interface CriCapabilitySecurityContext {
  capabilities?: CriCapability | null;
}

export interface CapabilityOptions {
  /** What "ALL" stands for; the node's capabilities if known, else ALL_CAPABILITIES. */
  all?: readonly string[];
}

/** "sys_admin", "SYS_ADMIN" and "CAP_SYS_ADMIN" all name CAP_SYS_ADMIN. */
export function normalizeCapability(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

function mentionsAll(names: readonly string[]): boolean {
  return names.some((name) => name.toUpperCase() === 'ALL');
}

/**
 * The capabilities a non-privileged container gets, computed the way containerd's CRI plugin does:
 * the runtime's defaults, replaced by everything when `add_capabilities` holds "ALL", emptied when
 * `drop_capabilities` holds "ALL", then the named additions, then the named drops. Names are
 * case-insensitive and may carry the `CAP_` prefix or not.
 *
 * Ambient capabilities are ignored: they never widen the bounding set (and containerd 1.6 clears them).
 * Privileged containers are the caller's business: they get no seccomp profile at all.
 */
export function effectiveCapabilities(
  defaults: readonly string[],
  securityContext: CriCapabilitySecurityContext | null | undefined,
  options: CapabilityOptions = {},
): string[] {
  const caps = securityContext?.capabilities;
  let set = defaults.map(normalizeCapability);
  if (caps) {
    const add = caps.add_capabilities ?? [];
    const drop = caps.drop_capabilities ?? [];
    if (mentionsAll(add)) set = (options.all ?? ALL_CAPABILITIES).map(normalizeCapability);
    if (mentionsAll(drop)) set = [];
    for (const name of add) {
      if (name.toUpperCase() !== 'ALL') set.push(normalizeCapability(name));
    }
    const dropped = new Set(drop.map(normalizeCapability));
    set = set.filter((cap) => !dropped.has(cap));
  }
  return [...new Set(set)];
}
