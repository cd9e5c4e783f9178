/**
 * Every lifecycle scenario, in one list for the suite (lifecycle.test.ts) and the simulator
 * (`npm run simulate`): single stacks, with policies enforced (flat and nested), nested stacks,
 * failed creates and refactoring, keys across the nested boundary, multi-Region keys.
 */
import { Scenario, SCENARIOS } from './scenarios';
import { REGION_SCENARIOS } from './scenarios-regions';
import { NESTED_KEY_SCENARIOS } from './scenarios-nested-keys';
import { NESTED_PERMISSION_SCENARIOS, PERMISSION_SCENARIOS } from './scenarios-permissions';
import { STACK_SCENARIOS } from './scenarios-stacks';

export const ALL_SCENARIOS: readonly Scenario[] = [
  ...SCENARIOS, ...PERMISSION_SCENARIOS, ...NESTED_PERMISSION_SCENARIOS, ...STACK_SCENARIOS, ...NESTED_KEY_SCENARIOS, ...REGION_SCENARIOS,
];
