import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../../api/cursor';

const secret = 'unit-test-cursor-secret';
const pos = { eventTime: '2026-02-24T10:00:00.123456Z', txId: 'tx:1.a-b' };

describe('wallet cursor', () => {
  it('round-trips a position for the same wallet', () => {
    const c = encodeCursor(pos, 'w-1', secret);
    expect(c).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(decodeCursor(c, 'w-1', secret)).toEqual(pos);
  });

  it('rejects a cursor of another wallet, another secret, or any altered character', () => {
    const c = encodeCursor(pos, 'w-1', secret);
    expect(decodeCursor(c, 'w-2', secret)).toBeNull();
    expect(decodeCursor(c, 'w-1', 'another-secret-value')).toBeNull();
    for (let i = 0; i < c.length; i++) {
      if (c[i] === '.') continue;
      const altered = c.slice(0, i) + (c[i] === 'A' ? 'B' : 'A') + c.slice(i + 1);
      expect(decodeCursor(altered, 'w-1', secret)).toBeNull();
    }
  });

  it('rejects garbage and forged payloads', () => {
    expect(decodeCursor('', 'w-1', secret)).toBeNull();
    expect(decodeCursor('abc', 'w-1', secret)).toBeNull();
    expect(decodeCursor('a.b.c', 'w-1', secret)).toBeNull();
    expect(decodeCursor('x'.repeat(600), 'w-1', secret)).toBeNull();
    const forgedPayload = Buffer.from(JSON.stringify(['2099-01-01T00:00:00.000000Z', 'tx-9'])).toString(
      'base64url',
    );
    const realTag = encodeCursor(pos, 'w-1', secret).split('.')[1];
    expect(decodeCursor(`${forgedPayload}.${realTag}`, 'w-1', secret)).toBeNull();
  });
});

describe('cursor tag canonical form', () => {
  it('rejects a tag whose spare base64 bits were flipped (same bytes, different text)', () => {
    const c = encodeCursor(pos, 'w-1', secret);
    const [payload, tagText] = c.split('.') as [string, string];
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(tagText[tagText.length - 1] as string);
    // 16 bytes -> 22 chars; the last char carries 2 data bits and 4 spare bits.
    const sibling = alphabet[last ^ 1] as string;
    const altered = `${payload}.${tagText.slice(0, -1)}${sibling}`;
    expect(Buffer.from(altered.split('.')[1] as string, 'base64url')).toEqual(
      Buffer.from(tagText, 'base64url'),
    );
    expect(decodeCursor(altered, 'w-1', secret)).toBeNull();
  });
});
