import { initTRPC, TRPCError } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import * as bridge from 'trpc-to-openapi';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createOpenApiFetch } from '../../../api/openapi-fetch';

vi.mock('trpc-to-openapi', async (importOriginal) => {
  const actual = await importOriginal<typeof import('trpc-to-openapi')>();
  return { ...actual, createOpenApiNodeHttpHandler: vi.fn(actual.createOpenApiNodeHttpHandler) };
});

const t = initTRPC.context<{ who: string }>().meta<OpenApiMeta>().create();
const router = t.router({
  echo: t.procedure
    .meta({ openapi: { method: 'GET', path: '/things/{id}' } })
    .input(z.object({ id: z.string().regex(/^[a-z]+$/), n: z.coerce.number().int().default(1) }))
    .output(z.object({ id: z.string(), n: z.number(), who: z.string() }))
    .query(({ input, ctx }) => {
      if (input.id === 'missing') throw new TRPCError({ code: 'NOT_FOUND', message: 'no such thing' });
      return { id: input.id, n: input.n, who: ctx.who };
    }),
});

describe('createOpenApiFetch (the REST bridge as Request -> Response)', () => {
  it('builds the bridge once and hands each request its own context', async () => {
    const spy = vi.mocked(bridge.createOpenApiNodeHttpHandler);
    spy.mockClear();
    const handle = createOpenApiFetch<string>({ router, createContext: (who) => ({ who }) });
    const [a, b] = await Promise.all([
      handle(new Request('http://x/things/abc?n=3'), 'alice'),
      handle(new Request('http://x/things/def'), 'bob'),
    ]);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(a.status).toBe(200);
    expect(await a.json()).toEqual({ id: 'abc', n: 3, who: 'alice' });
    expect(await b.json()).toEqual({ id: 'def', n: 1, who: 'bob' });
  });

  it('maps procedure errors and invalid input to their HTTP status, and reports them to onError', async () => {
    const errors: string[] = [];
    const handle = createOpenApiFetch<string>({
      router,
      createContext: (who) => ({ who }),
      onError: ({ error, path, ctx }) =>
        errors.push(`${path}:${error.code}:${(ctx as { who: string } | undefined)?.who ?? '-'}`),
    });
    const missing = await handle(new Request('http://x/things/missing'), 'carol');
    expect(missing.status).toBe(404);
    const bad = await handle(new Request('http://x/things/ABC'), 'dave');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('BAD_REQUEST');
    const none = await handle(new Request('http://x/nothing'), 'erin');
    expect(none.status).toBe(404);
    // No procedure matched: no context was made for it.
    expect(errors).toEqual(['echo:NOT_FOUND:carol', 'echo:BAD_REQUEST:dave', 'undefined:NOT_FOUND:-']);
  });
});
