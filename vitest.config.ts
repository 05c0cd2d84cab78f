import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // End-to-end suites start real containerd and registry processes; running files one at a
    // time keeps a 2-core machine from timing them out.
    fileParallelism: false,
    pool: 'forks',
    // Decides where the test registry runs and, in CI here, starts and stops podman's API for it.
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/no-skips-reporter.ts'],
  },
});
