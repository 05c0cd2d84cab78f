/** CRI's `SecurityProfile`, decoded by protobufjs either as a message or with toObject. */
export interface CriSecurityProfile {
  /** 0/'RuntimeDefault', 1/'Unconfined', 2/'Localhost'; absent means 0. */
  profile_type?: number | string | null;
  localhost_ref?: string | null;
}

/** The parts of CRI's `LinuxContainerSecurityContext` that decide about seccomp. */
export interface CriSeccompSecurityContext {
  privileged?: boolean | null;
  /** Absent (null from decode, undefined from toObject) is not the same as present with type 0. */
  seccomp?: CriSecurityProfile | null;
  /** Deprecated: "", "unconfined", "runtime/default", "docker/default" or "localhost/<path>". */
  seccomp_profile_path?: string | null;
}

export type SeccompGate = { apply: true } | { apply: false; reason: string; privileged: boolean };

const PROFILE_TYPES = ['RuntimeDefault', 'Unconfined', 'Localhost'] as const;

function profileTypeName(type: number | string | null | undefined): string {
  if (type === undefined || type === null) return 'RuntimeDefault';
  if (typeof type === 'number') return PROFILE_TYPES[type] ?? `unknown profile type ${type}`;
  return type;
}

function keep(reason: string): SeccompGate {
  return { apply: false, reason, privileged: false };
}

/**
 * Whether a container may take its seccomp profile from an annotation. As in CRI-O, only
 * containers that would otherwise run Unconfined do: a RuntimeDefault or Localhost profile in the
 * security context always wins, and privileged containers run without seccomp.
 *
 * The `seccomp` field decides when present. When it is absent the deprecated
 * `seccomp_profile_path` does, because containerd still honours it: "" and "unconfined" are
 * Unconfined. CRI-O ignores that field; here it is read so the shim never replaces a profile the
 * runtime would apply. No security context at all: CRI-O gives the container RuntimeDefault.
 */
export function seccompGate(securityContext: CriSeccompSecurityContext | null | undefined): SeccompGate {
  if (!securityContext) return keep('no security context: CRI-O runs such a container with RuntimeDefault');
  if (securityContext.privileged) {
    return { apply: false, reason: 'privileged container: it runs without seccomp', privileged: true };
  }
  const profile = securityContext.seccomp;
  if (profile) {
    const type = profileTypeName(profile.profile_type);
    if (type === 'Unconfined') return { apply: true };
    if (type === 'Localhost') return keep(`security context sets seccomp Localhost "${profile.localhost_ref ?? ''}"`);
    return keep(`security context sets seccomp ${type}`);
  }
  const path = securityContext.seccomp_profile_path ?? '';
  if (path === '' || path === 'unconfined') return { apply: true };
  return keep(`security context sets seccomp_profile_path "${path}"`);
}

/**
 * Whether a container asks for the runtime's default profile: RuntimeDefault in the `seccomp`
 * field, or, with the field absent, the deprecated `runtime/default` or `docker/default` path.
 * Such containers take an annotation only where `apply_to_runtime_default` lets them.
 */
export function asksForRuntimeDefault(securityContext: CriSeccompSecurityContext | null | undefined): boolean {
  if (!securityContext || securityContext.privileged) return false;
  if (securityContext.seccomp) return profileTypeName(securityContext.seccomp.profile_type) === 'RuntimeDefault';
  const path = securityContext.seccomp_profile_path ?? '';
  return path === 'runtime/default' || path === 'docker/default';
}
