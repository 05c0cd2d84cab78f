/**
 * Why an artifact could not be had. The set is small on purpose: each reason maps to one of the
 * words kubelet and CRI show to users (see `criErrorWord`).
 */
export type ArtifactErrorReason =
  | 'InvalidReference'
  | 'RegistryUnavailable'
  | 'NotFound'
  | 'Unauthorized'
  | 'InvalidArtifact'
  | 'TooLarge'
  | 'DigestMismatch'
  | 'InvalidConfig';

export class ArtifactError extends Error {
  override readonly name = 'ArtifactError';

  constructor(
    readonly reason: ArtifactErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The CRI/kubelet error word for a reason: `RegistryUnavailable` is CRI's `ErrRegistryUnavailable`,
 * a reference that cannot be parsed is kubelet's `InvalidImageName`, everything else is `ErrImagePull`.
 */
export function criErrorWord(reason: ArtifactErrorReason): 'RegistryUnavailable' | 'InvalidImageName' | 'ErrImagePull' {
  switch (reason) {
    case 'RegistryUnavailable':
      return 'RegistryUnavailable';
    case 'InvalidReference':
      return 'InvalidImageName';
    default:
      return 'ErrImagePull';
  }
}

export function isArtifactError(error: unknown, reason?: ArtifactErrorReason): error is ArtifactError {
  return error instanceof ArtifactError && (reason === undefined || error.reason === reason);
}
