// Every bench needs part of the stack. Checking it first turns an ECONNREFUSED deep inside a seed or
// cleanup step into one line per service that is not there and the command that starts it.
import net from 'node:net';
import type { Env } from '../core/env';

export type StackService = 'postgres' | 'kafka' | 'temporal';

function tcpReachable(host: string, port: number, timeoutMs = 2000): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (err: string | null): void => {
      socket.destroy();
      resolve(err);
    };
    socket.setTimeout(timeoutMs, () => done('timed out'));
    socket.once('connect', () => done(null));
    socket.once('error', (err) => done(err.message));
  });
}

function hostPort(address: string, defaultPort: number): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return i < 0
    ? { host: address, port: defaultPort }
    : { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/** Null when every needed service accepts connections; else one line per service that does not. */
export async function stackProblems(
  e: Pick<Env, 'DATABASE_URL' | 'KAFKA_BROKERS' | 'TEMPORAL_ADDRESS'>,
  needs: readonly StackService[],
): Promise<string | null> {
  const db = new URL(e.DATABASE_URL);
  const services = [
    ...(needs.includes('postgres')
      ? [{ name: 'PostgreSQL', host: db.hostname, port: Number(db.port || 5432), variable: 'DATABASE_URL' }]
      : []),
    ...(needs.includes('kafka')
      ? e.KAFKA_BROKERS.map((b) => ({ name: 'Kafka', ...hostPort(b, 9092), variable: 'KAFKA_BROKERS' }))
      : []),
    ...(needs.includes('temporal')
      ? [{ name: 'Temporal', ...hostPort(e.TEMPORAL_ADDRESS, 7233), variable: 'TEMPORAL_ADDRESS' }]
      : []),
  ];
  const problems: string[] = [];
  for (const s of services) {
    const err = await tcpReachable(s.host, s.port);
    if (err) problems.push(`  ${s.name} at ${s.host}:${s.port} (${s.variable}): ${err}`);
  }
  return problems.length ? problems.join('\n') : null;
}

/** Writes the problems and how to start the stack to stderr; true when the bench can go on. */
export async function requireStack(
  e: Pick<Env, 'DATABASE_URL' | 'KAFKA_BROKERS' | 'TEMPORAL_ADDRESS'>,
  needs: readonly StackService[],
): Promise<boolean> {
  const problems = await stackProblems(e, needs);
  if (!problems) return true;
  process.stderr.write(
    `error: the stack is not running (nothing accepts connections):\n${problems}\nStart it with: bash ops/stack up\n`,
  );
  return false;
}
