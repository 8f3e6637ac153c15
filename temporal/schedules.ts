// The weekly L3 regression schedule, created or updated idempotently (Temporal's `schedules` sample).
import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
} from '@temporalio/client';
import type { Env } from '../core/env';

export const L3_SCHEDULE_ID = 'l3-regression-weekly';

export function l3ScheduleOptions(e: Env, cron = '0 3 * * 1'): ScheduleOptions {
  return {
    scheduleId: L3_SCHEDULE_ID,
    spec: { cronExpressions: [cron] },
    action: {
      type: 'startWorkflow',
      workflowType: 'l3Regression',
      workflowId: 'l3-regression-scheduled',
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      args: [{}],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    memo: { owner: 'tx-lookup ops', purpose: 'periodic cluster smoke (SPEC §6)' },
  };
}

/** Creates the schedule, or brings an existing one to the same spec. Returns what it did. */
export async function applyL3Schedule(client: Client, e: Env, cron?: string): Promise<'created' | 'updated'> {
  const options = l3ScheduleOptions(e, cron);
  try {
    await client.schedule.create(options);
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    const handle = client.schedule.getHandle(options.scheduleId);
    await handle.update((prev) => ({
      ...prev,
      spec: options.spec,
      action: options.action as typeof prev.action,
      policies: { ...prev.policies, ...options.policies },
    }));
    return 'updated';
  }
}

export async function listSchedules(
  client: Client,
): Promise<{ id: string; workflowType: string; next: string | null; paused: boolean }[]> {
  const out: { id: string; workflowType: string; next: string | null; paused: boolean }[] = [];
  for await (const s of client.schedule.list()) {
    out.push({
      id: s.scheduleId,
      workflowType:
        s.action?.type === 'startWorkflow' ? s.action.workflowType : (s.action?.type ?? 'unknown'),
      next: s.info.nextActionTimes[0]?.toISOString() ?? null,
      paused: s.state.paused,
    });
  }
  return out;
}
