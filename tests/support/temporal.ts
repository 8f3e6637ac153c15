// Helpers for tests that run workflows: the Temporal CLI binary built by ops/stack, and one shared bundle
// of workflows/ per test file (webpack bundling costs seconds, so it is done once).
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { workflowsPath } from '../../temporal/paths';

export function temporalBinary(): string {
  const cache = process.env.TXLOOKUP_CACHE ?? path.join(os.homedir(), '.cache', 'tx-lookup');
  return path.join(cache, 'bin', 'temporal');
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath,
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    },
  });
  return bundle;
}
