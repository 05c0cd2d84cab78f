import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { mustRunEverything } from './requirements.js';

/**
 * In CI on Linux as root every test must run: a test skipped there (a suite's requirement not
 * met, a reference file missing) fails the run, listed by file and name. Elsewhere it reports nothing.
 */
export default class NoSkipsInCi implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    if (!mustRunEverything()) return;
    const skipped = testModules.flatMap((module) =>
      [...module.children.allTests('skipped')].map((test) => `${path.relative(process.cwd(), module.moduleId)} > ${test.fullName}`),
    );
    if (skipped.length === 0) return;
    console.error(`CI on Linux as root runs every test, but ${skipped.length} were skipped:\n  ${skipped.join('\n  ')}`);
    process.exitCode = 1;
  }
}
