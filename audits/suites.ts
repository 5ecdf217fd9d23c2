/**
 * Every built-in suite, by name (the names and phases are core/suites.ts's table); a suite
 * missing here does not compile. Plans and judges are light; what a suite gathers with (SSH,
 * the Docker client, the load generator) is loaded only when it runs.
 */
import type { SuiteName } from '../core/suites.ts';
import { chaosSuite } from './chaos/chaos-suite.ts';
import { customSuite } from './custom/custom-suite.ts';
import { deploySuite } from './deploy/deploy-suite.ts';
import { imageIntegritySuite } from './image/image-suite.ts';
import { planSuite } from './plan/plan-suite.ts';
import { newReleaseSuite } from './new-release/new-release-suite.ts';
import { replacementsSuite } from './replacements/replacements-suite.ts';
import { sshEditsSuite } from './ssh-edits/ssh-edits-suite.ts';
import type { SuiteModule } from './suite.ts';

export const SUITE_MODULES: { readonly [S in SuiteName]: SuiteModule } = {
  plan: planSuite,
  'ssh-edits': sshEditsSuite,
  'image-integrity': imageIntegritySuite,
  custom: customSuite,
  chaos: chaosSuite,
  replacements: replacementsSuite,
  deploy: deploySuite,
  'new-release': newReleaseSuite,
};
