// CLI: npm run synth -- --payments 1000 --seed 42 --to kafka|dump [--out file] [--rate 2000] ...
// Publishes (or writes) deterministic synthetic payments; prints a JSON summary.
import { parseArgs } from 'node:util';
import { getProfile } from '../contract';
import { envOrExit } from '../core/env';
import { intFlag, rateFlag, runCli, timeFlag, UsageError } from './cli-args';
import { createKafka, ensureTopics, withTopics } from './kafka';
import { generatePayments, produceEvents, SYNTH_DEFAULTS, writeDump, type SynthEvent } from './synth';

const USAGE = `usage: npm run synth -- --payments N --seed S --to kafka|dump [options]
  --out FILE                  dump file (required with --to dump; .ndjson or .ndjson.gz)
  --rate N                    max events/s to Kafka (token bucket; default unlimited)
  --dup-rate P                duplicate probability            (default ${SYNTH_DEFAULTS.dupRate})
  --ooo-rate P                out-of-order probability          (default ${SYNTH_DEFAULTS.oooRate})
  --missing-version-rate P    no updated_at/source_version      (default ${SYNTH_DEFAULTS.missingVersionRate})
  --orphan-rate P             one-sided payments                (default ${SYNTH_DEFAULTS.orphanRate})
  --malformed-rate P          malformed messages per payment    (default ${SYNTH_DEFAULTS.malformedRate})
  --profile ID                event profile (default EVENT_PROFILE_ID)
  --id-prefix P               prefix of every id (default synth-<seed>-)
  --topic-suffix S            publish to <profile topic><S> (created with 2 partitions if missing)
  --start-time T              RFC 3339 event_time of the first payment (default now - span)
  --span-sec N                event_time spread in seconds (default ${SYNTH_DEFAULTS.spanSec})`;

await runCli(USAGE, async () => {
  const config = envOrExit();
  const { values } = parseArgs({
    options: {
      payments: { type: 'string' },
      seed: { type: 'string' },
      to: { type: 'string' },
      out: { type: 'string' },
      rate: { type: 'string' },
      'dup-rate': { type: 'string' },
      'ooo-rate': { type: 'string' },
      'missing-version-rate': { type: 'string' },
      'orphan-rate': { type: 'string' },
      'malformed-rate': { type: 'string' },
      profile: { type: 'string' },
      'id-prefix': { type: 'string' },
      'topic-suffix': { type: 'string' },
      'start-time': { type: 'string' },
      'span-sec': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.payments === undefined) throw new UsageError('--payments is required');
  if (values.to !== 'kafka' && values.to !== 'dump') throw new UsageError('--to must be kafka or dump');
  if (values.to === 'dump' && !values.out) throw new UsageError('--out is required with --to dump');
  let profile;
  try {
    profile = getProfile(values.profile ?? config.EVENT_PROFILE_ID);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const suffix = values['topic-suffix'] ?? '';
  if (suffix && !/^[A-Za-z0-9._-]+$/.test(suffix))
    throw new UsageError('--topic-suffix may only contain [A-Za-z0-9._-]');
  profile = withTopics(profile, {
    ledger: profile.topics.ledger + suffix,
    order: profile.topics.order + suffix,
  });
  const seed = intFlag(values.seed, 'seed', 42);
  const spanSec = intFlag(values['span-sec'], 'span-sec', SYNTH_DEFAULTS.spanSec, 1);
  const rate = values.rate === undefined ? undefined : intFlag(values.rate, 'rate', 0, 1);
  const opts = {
    payments: intFlag(values.payments, 'payments', 0, 1),
    seed,
    idPrefix: values['id-prefix'] ?? `synth-${seed}-`,
    startTime: timeFlag(values['start-time'], 'start-time') ?? new Date(Date.now() - spanSec * 1000),
    spanSec,
    dupRate: rateFlag(values['dup-rate'], 'dup-rate', SYNTH_DEFAULTS.dupRate),
    oooRate: rateFlag(values['ooo-rate'], 'ooo-rate', SYNTH_DEFAULTS.oooRate),
    missingVersionRate: rateFlag(
      values['missing-version-rate'],
      'missing-version-rate',
      SYNTH_DEFAULTS.missingVersionRate,
    ),
    orphanRate: rateFlag(values['orphan-rate'], 'orphan-rate', SYNTH_DEFAULTS.orphanRate),
    malformedRate: rateFlag(values['malformed-rate'], 'malformed-rate', SYNTH_DEFAULTS.malformedRate),
    profile,
  };

  const counts = { events: 0, ledger: 0, order: 0, duplicates: 0, malformed: 0 };
  function* counted(): Generator<SynthEvent> {
    for (const ev of generatePayments(opts)) {
      counts.events += 1;
      counts[ev.stream] += 1;
      if (ev.duplicate) counts.duplicates += 1;
      if (ev.malformed) counts.malformed += 1;
      yield ev;
    }
  }
  const t0 = performance.now();
  if (values.to === 'dump') {
    await writeDump(counted(), values.out!);
  } else {
    const kafka = createKafka();
    const admin = kafka.admin();
    await admin.connect();
    try {
      if (suffix) await ensureTopics(admin, [profile.topics.ledger, profile.topics.order], 2);
    } finally {
      await admin.disconnect();
    }
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await produceEvents(counted(), { producer, profile, rate });
    } finally {
      await producer.disconnect();
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(
    `${JSON.stringify({
      to: values.to,
      out: values.out ?? null,
      topics: values.to === 'kafka' ? profile.topics : null,
      profile: profile.id,
      idPrefix: opts.idPrefix,
      payments: opts.payments,
      ...counts,
      seconds: Number(seconds.toFixed(2)),
      eventsPerSec: Math.round(counts.events / Math.max(seconds, 1e-6)),
    })}\n`,
  );
  return 0;
});
