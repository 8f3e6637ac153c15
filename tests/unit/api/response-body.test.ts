// StringResponse (api/response-body.ts) must behave as `new Response(string, init)` through every body API.
import { Readable } from 'node:stream';
import { text as streamText } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { knownBody, stringResponse } from '../../../api/response-body';

const BODY = '{"tx_id":"tx-é1","amount":"100.00"}';
const init = (): ResponseInit => ({
  status: 404,
  statusText: 'Not Found',
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
});
/** The same answer both ways: ours and the standard one. */
const both = (body = BODY, i: ResponseInit = init()) =>
  [stringResponse(body, i), new Response(body, i)] as const;

describe('stringResponse', () => {
  it('has the status, headers and type of new Response(string, init), and is a Response', () => {
    const [ours, real] = both();
    expect(ours).toBeInstanceOf(Response);
    for (const key of ['status', 'statusText', 'ok', 'type', 'url', 'redirected', 'bodyUsed'] as const)
      expect(ours[key]).toEqual(real[key]);
    const entries = (h: Headers) => {
      const out: [string, string][] = [];
      h.forEach((v, k) => out.push([k, v]));
      return out;
    };
    expect(entries(ours.headers)).toEqual(entries(real.headers));
    const [plainOurs, plainReal] = both('x', { status: 200 });
    expect(plainOurs.headers.get('content-type')).toBe(plainReal.headers.get('content-type'));
  });

  it('reads the same through text, json, arrayBuffer, bytes, blob and the body stream', async () => {
    for (const read of [
      (r: Response) => r.text(),
      (r: Response) => r.json(),
      async (r: Response) => [...new Uint8Array(await r.arrayBuffer())],
      async (r: Response) => [...(await r.bytes())],
      async (r: Response) => {
        const b = await r.blob();
        return [b.type, b.size, await b.text()];
      },
      (r: Response) => streamText(Readable.fromWeb(r.body as never)),
    ]) {
      const [ours, real] = both();
      expect(await read(ours)).toEqual(await read(real));
      expect(ours.bodyUsed).toBe(true);
      expect(real.bodyUsed).toBe(true);
      await expect(ours.text()).rejects.toThrow(TypeError);
      await expect(real.text()).rejects.toThrow(TypeError);
    }
  });

  it('refuses formData of a JSON body like the standard one', async () => {
    const [ours, real] = both();
    await expect(real.formData()).rejects.toThrow(TypeError);
    await expect(ours.formData()).rejects.toThrow(TypeError);
  });

  it('clones into an independent response, and refuses to once the body is read', async () => {
    const [ours] = both();
    ours.headers.set('x-request-id', 'req-1');
    const copy = ours.clone();
    expect(copy.headers.get('x-request-id')).toBe('req-1');
    expect(await copy.text()).toBe(BODY);
    expect(ours.bodyUsed).toBe(false);
    expect(await ours.json()).toEqual(JSON.parse(BODY));
    expect(() => ours.clone()).toThrow(TypeError);
  });

  it('keeps headers set after it was built', async () => {
    const [ours] = both();
    ours.headers.set('x-request-id', 'req-2');
    expect(ours.headers.get('x-request-id')).toBe('req-2');
    expect(await ours.text()).toBe(BODY);
    expect(ours.headers.get('x-request-id')).toBe('req-2');
  });

  it('refuses a body for a null-body status, as the standard does', () => {
    expect(() => new Response('x', { status: 204 })).toThrow(TypeError);
    expect(() => stringResponse('x', { status: 204 })).toThrow(TypeError);
    expect(stringResponse('', { status: 204 }).status).toBe(204);
  });
});

describe('knownBody', () => {
  it('is the string a response was built from, until its body is read', async () => {
    const r = stringResponse(BODY, { status: 200 });
    expect(knownBody(r)).toBe(BODY);
    expect(knownBody(new Response(BODY))).toBeUndefined();
    expect(await r.text()).toBe(BODY);
    expect(knownBody(r)).toBeUndefined();
    const streamed = stringResponse(BODY, { status: 200 });
    void streamed.body?.getReader().read();
    expect(knownBody(streamed)).toBeUndefined();
  });
});
