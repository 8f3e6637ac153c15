// A throwaway PostgreSQL cluster (the stack's own server binaries) for the one test that stops and
// restarts the database under a running consumer: restarting the shared stack server would break every
// other test and process using it. Real PostgreSQL, migrated with the project's migrations.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { migrateToHead } from '../../../db/migrate';

const exec = promisify(execFile);

function findPgBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(a) - Number(b))
    : [];
  const last = versions[versions.length - 1];
  if (!last)
    throw new Error(
      'no PostgreSQL server binaries under /usr/lib/postgresql (run `bash ops/stack up` first)',
    );
  return path.join(root, last, 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface PrivatePostgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = findPgBin();
  const asRoot = process.getuid?.() === 0;
  // postgres refuses to run as root: run its tools as the `postgres` OS user then.
  const run = (cmd: string, args: string[]) =>
    asRoot
      ? exec('runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args])
      : exec(path.join(bin, cmd), args);
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'txl-it-pg-'));
  if (asRoot) await exec('chown', ['postgres', dir]);
  const data = path.join(dir, 'data');
  const port = await freePort();
  await run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=50 -c shared_buffers=32MB`;
  const start = async () => {
    await run('pg_ctl', [
      'start',
      '-D',
      data,
      '-l',
      path.join(dir, 'postgres.log'),
      '-w',
      '-t',
      '60',
      '-s',
      '-o',
      opts,
    ]);
  };
  const stop = async () => {
    await run('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w', '-t', '60', '-s']);
  };
  await start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await migrateToHead(url);
  return {
    url,
    start,
    stop,
    async destroy() {
      await run('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w', '-s']).catch(() => undefined);
      await fs.promises.rm(dir, { recursive: true, force: true });
    },
  };
}
