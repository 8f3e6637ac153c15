// Kafka readiness probe + idempotent topic creation for ops/stack.
//   npx tsx ops/create-topics.ts --brokers 127.0.0.1:9092 --deadline-sec 90 ledger.entry.upserted:2 ...
//   npx tsx ops/create-topics.ts --brokers 127.0.0.1:9092 --check      (one metadata request, exit 0/1)
// Readiness is a real metadata request (listTopics), retried until the deadline. Existing topics are
// kept as they are; a topic that exists with a different partition count is reported, not altered.
import { Kafka, logLevel } from 'kafkajs';

interface Options {
  brokers: string[];
  deadlineMs: number;
  checkOnly: boolean;
  topics: { name: string; partitions: number }[];
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { brokers: ['127.0.0.1:9092'], deadlineMs: 90_000, checkOnly: false, topics: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--brokers') {
      opts.brokers = (argv[++i] ?? '').split(',').filter(Boolean);
    } else if (arg === '--deadline-sec') {
      const sec = Number(argv[++i]);
      if (!Number.isFinite(sec) || sec <= 0) throw new Error(`--deadline-sec must be a positive number`);
      opts.deadlineMs = sec * 1000;
    } else if (arg === '--check') {
      opts.checkOnly = true;
    } else {
      const match = /^([A-Za-z0-9._-]+):(\d+)$/.exec(arg);
      if (!match) throw new Error(`bad argument ${JSON.stringify(arg)}: expected <topic>:<partitions>`);
      opts.topics.push({ name: match[1] ?? '', partitions: Number(match[2]) });
    }
  }
  if (opts.brokers.length === 0) throw new Error('--brokers is empty');
  return opts;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const kafka = new Kafka({
    clientId: 'tx-lookup-stack',
    brokers: opts.brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  const deadline = Date.now() + (opts.checkOnly ? 4000 : opts.deadlineMs);
  let existing: string[] | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await admin.connect();
      existing = await admin.listTopics();
      break;
    } catch (err) {
      lastError = err;
      await admin.disconnect().catch(() => undefined);
      await sleep(300);
    }
  }
  if (!existing) {
    const reason = lastError instanceof Error ? lastError.message : String(lastError);
    throw new Error(`no metadata from ${opts.brokers.join(',')} before the deadline: ${reason}`);
  }
  try {
    if (opts.checkOnly) return;
    const missing = opts.topics.filter((t) => !existing.includes(t.name));
    if (missing.length > 0) {
      // createTopics may race with a concurrent `ops/stack up`; TOPIC_ALREADY_EXISTS is fine.
      await admin
        .createTopics({
          waitForLeaders: true,
          topics: missing.map((t) => ({ topic: t.name, numPartitions: t.partitions, replicationFactor: 1 })),
        })
        .catch((err: unknown) => {
          if (!(err instanceof Error && /already exists/i.test(err.message))) throw err;
        });
    }
    if (opts.topics.length > 0) {
      const meta = await admin.fetchTopicMetadata({ topics: opts.topics.map((t) => t.name) });
      for (const t of opts.topics) {
        const found = meta.topics.find((m) => m.name === t.name);
        if (!found) throw new Error(`topic ${t.name} is missing after creation`);
        if (found.partitions.length !== t.partitions) {
          process.stderr.write(
            `warning: topic ${t.name} has ${found.partitions.length} partitions (expected ${t.partitions}); left as is\n`,
          );
        }
      }
      const created = missing.map((t) => t.name);
      process.stdout.write(
        created.length > 0 ? `kafka: created topics ${created.join(', ')}\n` : `kafka: topics present\n`,
      );
    }
  } finally {
    await admin.disconnect();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`kafka: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
