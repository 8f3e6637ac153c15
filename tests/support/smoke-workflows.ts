// Workflow used by tests/integration/stack/smoke.test.ts: orchestration only, the work is one activity.
import { proxyActivities } from '@temporalio/workflow';

export interface SmokeActivities {
  smokeGreet(name: string): Promise<string>;
}

const { smokeGreet } = proxyActivities<SmokeActivities>({ startToCloseTimeout: '10 seconds' });

export async function smokeWorkflow(name: string): Promise<string> {
  const greeting = await smokeGreet(name);
  return `${greeting} (via workflow)`;
}
