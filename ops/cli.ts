// Ops CLI over @temporalio/client: `npm run ops -- <command>`. Prints the workflow id and its Temporal UI link.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { WorkflowNotFoundError } from '@temporalio/client';
import { envOrExit } from '../core/env';
import { connectClient, workflowUiUrl } from '../temporal/client';
import { applyL3Schedule, listSchedules } from '../temporal/schedules';
import type { CutoverRehearsalInput, DlqReplayInput, RehearsalProgress } from '../workflows/types';

const USAGE = `usage: npm run ops -- <command>
  rehearsal start [--input '<json>'] [--id <workflowId>] [--wait]   start cutoverRehearsal (input fields all optional)
  rehearsal status <workflowId>                                     live progress (the workflow's "progress" query)
  rehearsal result <workflowId>                                     wait for and print the verdict
  dlq replay [--topic T] [--reason R] [--from ISO] [--to ISO] [--ids 1,2] [--dry-run] [--batch-size N] [--wait]
  regression run [--wait]                                           start one l3Regression now
  schedules apply [--cron '0 3 * * 1']                              create or update the weekly L3 schedule
  schedules list`;

function fail(msg: string): never {
  process.stderr.write(`${msg}\n\n${USAGE}\n`);
  process.exit(2);
}

function parseJsonInput(raw: string | undefined): CutoverRehearsalInput {
  if (!raw) return {};
  try {
    const v: unknown = JSON.parse(raw);
    if (!v || typeof v !== 'object' || Array.isArray(v)) fail('--input must be a JSON object');
    return v as CutoverRehearsalInput;
  } catch (err) {
    fail(`--input is not valid JSON: ${(err as Error).message}`);
  }
}

async function main(): Promise<void> {
  const [group, action, ...rest] = process.argv.slice(2);
  if (!group || group === '--help' || group === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const e = envOrExit();
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      input: { type: 'string' },
      id: { type: 'string' },
      wait: { type: 'boolean', default: false },
      topic: { type: 'string' },
      reason: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      ids: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'batch-size': { type: 'string' },
      cron: { type: 'string' },
    },
  });
  const client = await connectClient(e);
  const taskQueue = e.TEMPORAL_TASK_QUEUE;
  const announce = (workflowId: string) => {
    process.stdout.write(`workflow id: ${workflowId}\nTemporal UI: ${workflowUiUrl(e, workflowId)}\n`);
  };
  const printJson = (v: unknown) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);

  try {
    switch (`${group} ${action ?? ''}`.trim()) {
      case 'rehearsal start': {
        const workflowId = values.id ?? `cutover-rehearsal-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        const handle = await client.workflow.start('cutoverRehearsal', {
          taskQueue,
          workflowId,
          args: [parseJsonInput(values.input)],
        });
        announce(handle.workflowId);
        if (values.wait) printJson(await handle.result());
        break;
      }
      case 'rehearsal status': {
        const id = positionals[0] ?? fail('rehearsal status needs a workflow id');
        const handle = client.workflow.getHandle(id);
        const desc = await handle.describe();
        const progress = await handle.query<RehearsalProgress>('progress').catch(() => null);
        printJson({ workflowId: id, status: desc.status.name, progress });
        announce(id);
        break;
      }
      case 'rehearsal result': {
        const id = positionals[0] ?? fail('rehearsal result needs a workflow id');
        printJson(await client.workflow.getHandle(id).result());
        break;
      }
      case 'dlq replay': {
        const input: DlqReplayInput = {
          topic: values.topic,
          reason: values.reason,
          from: values.from,
          to: values.to,
          ids: values.ids
            ? values.ids
                .split(',')
                .map((s) => s.trim())
                .filter(Boolean)
            : undefined,
          dryRun: values['dry-run'],
          batchSize: values['batch-size'] ? Number(values['batch-size']) : undefined,
        };
        if (input.batchSize !== undefined && !(Number.isInteger(input.batchSize) && input.batchSize > 0))
          fail('--batch-size must be a positive integer');
        const handle = await client.workflow.start('dlqReplay', {
          taskQueue,
          workflowId: `dlq-replay-${randomUUID()}`,
          args: [input],
        });
        announce(handle.workflowId);
        if (values.wait) printJson(await handle.result());
        break;
      }
      case 'regression run': {
        const handle = await client.workflow.start('l3Regression', {
          taskQueue,
          workflowId: `l3-regression-${randomUUID()}`,
          args: [{}],
        });
        announce(handle.workflowId);
        if (values.wait) printJson(await handle.result());
        break;
      }
      case 'schedules apply': {
        const what = await applyL3Schedule(client, e, values.cron);
        process.stdout.write(
          `schedule l3-regression-weekly ${what}\nTemporal UI: ${e.TEMPORAL_UI_URL}/namespaces/${e.TEMPORAL_NAMESPACE}/schedules\n`,
        );
        break;
      }
      case 'schedules list':
        printJson(await listSchedules(client));
        break;
      default:
        fail(`unknown command: ${group} ${action ?? ''}`);
    }
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) fail(`no such workflow: ${err.workflowId}`);
    throw err;
  } finally {
    await client.connection.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`ops: ${(err as Error).message}\n`);
  process.exit(1);
});
