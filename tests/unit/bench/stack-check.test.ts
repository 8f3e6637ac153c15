import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackProblems } from '../../../bench/stack-check';

describe('stackProblems (bench preflight)', () => {
  let open: net.Server;
  let openPort = 0;
  let closedPort = 0;

  beforeAll(async () => {
    open = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => open.listen(0, '127.0.0.1', () => r()));
    openPort = (open.address() as net.AddressInfo).port;
    // A port that was free a moment ago: nothing listens there.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    closedPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
  });
  afterAll(() => new Promise<void>((r) => open.close(() => r())));

  const env = (db: number, kafka: number, temporal: number) => ({
    DATABASE_URL: `postgres://u:p@127.0.0.1:${db}/d`,
    KAFKA_BROKERS: [`127.0.0.1:${kafka}`],
    TEMPORAL_ADDRESS: `127.0.0.1:${temporal}`,
  });

  it('is null when every needed service accepts connections', async () => {
    expect(
      await stackProblems(env(openPort, openPort, openPort), ['postgres', 'kafka', 'temporal']),
    ).toBeNull();
  });

  it('names each service that does not, with the variable that points at it', async () => {
    const problems = await stackProblems(env(closedPort, openPort, closedPort), [
      'postgres',
      'kafka',
      'temporal',
    ]);
    expect(problems?.split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(`^  PostgreSQL at 127\\.0\\.0\\.1:${closedPort} \\(DATABASE_URL\\): .*ECONNREFUSED`),
      ),
      expect.stringMatching(
        new RegExp(`^  Temporal at 127\\.0\\.0\\.1:${closedPort} \\(TEMPORAL_ADDRESS\\): `),
      ),
    ]);
  });

  it('checks only the services the bench needs', async () => {
    expect(await stackProblems(env(openPort, closedPort, closedPort), ['postgres'])).toBeNull();
  });
});
