/** A kernel's "version.major" pair, the precision moby's `minKernel` compares at. */
export interface KernelVersion {
  kernel: number;
  major: number;
}

/**
 * The first two numbers of a kernel release string: "6.1.0-18-amd64" and "6.1" both give 6.1;
 * minor revisions and distribution suffixes are ignored, as moby does.
 */
export function parseKernelVersion(release: string): KernelVersion {
  const match = /^([0-9]+)\.([0-9]+)/.exec(release);
  if (!match) throw new Error(`kernel version "${release}" does not start with "<version>.<major>"`);
  return { kernel: Number(match[1]), major: Number(match[2]) };
}

export function kernelAtLeast(running: KernelVersion, minimum: KernelVersion): boolean {
  return running.kernel > minimum.kernel || (running.kernel === minimum.kernel && running.major >= minimum.major);
}
