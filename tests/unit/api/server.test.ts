// The node:http adapter alone (api/server.ts), with a stand-in handle(): no DB needed.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Api } from '../../../api/http';
import { stringResponse } from '../../../api/response-body';
import { startServer } from '../../../api/server';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Send a raw GET and resolve with what came back (until the server closes the socket or `ms` pass). */
function rawGet(port: number, path: string, ms = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    let data = '';
    socket.on('data', (d: Buffer) => (data += d.toString('utf8')));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      resolve(data);
    }, ms);
  });
}

describe('startServer', () => {
  it('writes a string-built body as is and a stream body read back, with content-length', async () => {
    const api: Api = {
      handle: (req) =>
        Promise.resolve(
          new URL(req.url).pathname === '/known'
            ? stringResponse('{"é":1}', { status: 200, headers: { 'content-type': 'application/json' } })
            : new Response(new Blob(['streamed ü']), { status: 201 }),
        ),
    };
    const running = await startServer(api, { host: '127.0.0.1', port: 0 });
    try {
      const port = Number(new URL(running.url).port);
      const known = await rawGet(port, '/known');
      expect(known).toMatch(/^HTTP\/1.1 200/);
      expect(known).toMatch(/content-length: 8\r\n/i);
      expect(known.endsWith('\r\n\r\n{"é":1}')).toBe(true);
      const streamed = await rawGet(port, '/other');
      expect(streamed).toMatch(/^HTTP\/1.1 201/);
      expect(streamed).toMatch(/content-length: 11\r\n/i);
      expect(streamed.endsWith('streamed ü')).toBe(true);
    } finally {
      await running.close();
    }
  });

  it('close() waits for a request still being answered after its client hung up', async () => {
    const entered = deferred();
    const release = deferred();
    let answered = false;
    const api: Api = {
      handle: async () => {
        entered.resolve();
        await release.promise;
        answered = true;
        return new Response('late');
      },
    };
    const running = await startServer(api, { host: '127.0.0.1', port: 0 });
    const port = Number(new URL(running.url).port);
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write('GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    });
    socket.on('error', () => {});
    await entered.promise;
    socket.destroy();
    let closed = false;
    const closing = running.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(false);
    release.resolve();
    await closing;
    expect(answered).toBe(true);
  });
});

describe('startServer close()', () => {
  it('ends connections that never sent a request and idle keep-alive ones, then resolves', async () => {
    const api: Api = { handle: () => Promise.resolve(new Response('ok')) };
    const running = await startServer(api, { host: '127.0.0.1', port: 0 });
    const port = Number(new URL(running.url).port);
    const silent = net.connect(port, '127.0.0.1');
    const keptAlive = net.connect(port, '127.0.0.1', () =>
      keptAlive.write('GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
    );
    const ended = (s: net.Socket) =>
      new Promise<void>((resolve) => {
        s.on('error', () => {});
        s.on('close', () => resolve());
        s.resume();
      });
    const bothEnded = Promise.all([ended(silent), ended(keptAlive)]);
    await new Promise<void>((resolve) => keptAlive.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, 50));
    const closing = running.close();
    const outcome = await Promise.race([
      closing.then(() => 'closed'),
      new Promise((r) => setTimeout(() => r('still open after 3 s'), 3000)),
    ]);
    expect(outcome).toBe('closed');
    await bothEnded;
  });
});
