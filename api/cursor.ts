// Opaque keyset cursor of the wallet listing: base64url(JSON [event_time, tx_id]) + "." + HMAC tag.
// The event time keeps PostgreSQL's microseconds (a millisecond cursor would skip rows that share a
// millisecond). The tag covers the wallet id too, so a cursor is only valid for the wallet it came from;
// anything altered, truncated or foreign decodes to null (the API answers 400).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ID_PATTERN } from '../contract/index';

export interface CursorPosition {
  /** UTC timestamp with microseconds, `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
  eventTime: string;
  txId: string;
}

const TAG_BYTES = 16;
const MICRO_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
export const MAX_CURSOR_LENGTH = 512;

function tag(secret: string, walletId: string, payload: string): Buffer {
  return createHmac('sha256', secret).update(`${walletId}\n${payload}`).digest().subarray(0, TAG_BYTES);
}

export function encodeCursor(pos: CursorPosition, walletId: string, secret: string): string {
  const payload = Buffer.from(JSON.stringify([pos.eventTime, pos.txId]), 'utf8').toString('base64url');
  return `${payload}.${tag(secret, walletId, payload).toString('base64url')}`;
}

export function decodeCursor(cursor: string, walletId: string, secret: string): CursorPosition | null {
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH) return null;
  const parts = cursor.split('.');
  if (parts.length !== 2) return null;
  const [payload, tagText] = parts as [string, string];
  if (!/^[A-Za-z0-9_-]+$/.test(payload) || !/^[A-Za-z0-9_-]+$/.test(tagText)) return null;
  // Compare the canonical text form: base64 has spare bits, so two tag strings can decode to the same bytes.
  const given = Buffer.from(tagText, 'latin1');
  const expected = Buffer.from(tag(secret, walletId, payload).toString('base64url'), 'latin1');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(decoded) || decoded.length !== 2) return null;
  const [eventTime, txId] = decoded as unknown[];
  if (typeof eventTime !== 'string' || !MICRO_ISO.test(eventTime)) return null;
  if (typeof txId !== 'string' || !ID_PATTERN.test(txId)) return null;
  return { eventTime, txId };
}
