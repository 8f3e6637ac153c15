// Zod schemas of the Admin API: inputs (validated on both the tRPC and REST sides; a bad id is a 400)
// and outputs (SPEC §4.2 shapes; they also generate the OpenAPI document).
import { z } from 'zod';
import { ID_PATTERN, MAX_ID_LENGTH, MAX_WALLET_ID_LENGTH, textKeyProblem } from '../contract/values';
import { MAX_CURSOR_LENGTH } from './cursor';

const ID_RULE = `1..${MAX_ID_LENGTH} characters of [A-Za-z0-9._:-]`;

/** An id by the contract's id rule (length checked first, so a 10 kB id costs nothing). */
export const idSchema = (what: string) =>
  z
    .string()
    .min(1, `must be ${ID_RULE}`)
    .max(MAX_ID_LENGTH, `must be ${ID_RULE}`)
    .regex(ID_PATTERN, `must be ${ID_RULE}`)
    .meta({
      description: `${what}: ${ID_RULE}`,
      example: `${what.split('_')[0]}-1`,
    });

const WALLET_ID_RULE = `1..${MAX_WALLET_ID_LENGTH} characters (any but NUL; percent-encode it in the REST path)`;

/** A ledger entry's wallet_id: free text of 1..128 characters (SPEC §1.2), the contract's rule. */
export const walletIdSchema = z
  .string()
  .refine((s) => textKeyProblem(s, MAX_WALLET_ID_LENGTH) === null, {
    error: (issue) =>
      `must be ${WALLET_ID_RULE}: ${textKeyProblem(issue.input as string, MAX_WALLET_ID_LENGTH)}`,
  })
  .meta({ description: `wallet_id: ${WALLET_ID_RULE}`, example: 'w-1234567889' });

const rfc3339 = (what: string) =>
  z.iso.datetime({ offset: true, message: 'must be an RFC 3339 timestamp with a time zone' }).meta({
    description: `${what}: RFC 3339 timestamp on event_time`,
    example: '2026-02-24T10:00:00Z',
  });

export const txGetInput = z.object({ tx_id: idSchema('tx_id') });
export const orderGetInput = z.object({ order_id: idSchema('order_id') });

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

export const walletListInput = z.object({
  wallet_id: walletIdSchema,
  limit: z
    .number({ message: `must be an integer 1..${MAX_PAGE_SIZE}` })
    .int(`must be an integer 1..${MAX_PAGE_SIZE}`)
    .min(1, `must be an integer 1..${MAX_PAGE_SIZE}`)
    .max(MAX_PAGE_SIZE, `must be an integer 1..${MAX_PAGE_SIZE}`)
    .default(DEFAULT_PAGE_SIZE)
    .meta({ description: `page size, 1..${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})` }),
  cursor: z
    .string()
    .min(1, 'cursor must not be empty')
    .max(MAX_CURSOR_LENGTH, 'cursor is not valid')
    .optional()
    .meta({ description: 'opaque next_cursor of the previous page' }),
  from: rfc3339('from').optional(),
  to: rfc3339('to').optional(),
  entry_type: z
    .string()
    .max(64, 'must be 1..64 characters of [A-Za-z0-9._:-]')
    .regex(ID_PATTERN, 'must be 1..64 characters of [A-Za-z0-9._:-]')
    .optional()
    .meta({ description: 'only entries of this type, e.g. PAYMENT', example: 'PAYMENT' }),
});

const timestamp = z.iso.datetime().meta({ description: 'UTC, ISO 8601 with milliseconds' });
const decimal = z.string().meta({ description: 'exact decimal, as stored', example: '1500.00' });

export const statusGroupSchema = z.enum([
  'IN_PROGRESS',
  'SUCCESS',
  'FAILED',
  'CANCELLED',
  'REFUNDED',
  'UNKNOWN',
]);
export const pairingStatusSchema = z.enum(['COMPLETE', 'INCOMPLETE', 'UNKNOWN']);

export const ledgerEntryOutput = z
  .object({
    tx_id: z.string(),
    wallet_id: z.string(),
    entry_type: z.string(),
    amount: decimal,
    currency: z.string().nullable(),
    event_time: timestamp,
    updated_at: timestamp.nullable(),
    source_version: z.number().int().nullable(),
    ingested_at: timestamp,
    related_id: z.string().nullable(),
    related_type: z.string(),
    status: z
      .string()
      .nullable()
      .meta({ description: 'raw status of the related payment order; null when none' }),
    status_group: statusGroupSchema,
    pairing_status: pairingStatusSchema,
    paired_tx_id: z.string().nullable(),
    data_lag_sec: z
      .number()
      .min(0)
      .meta({ description: 'ingested_at - event_time in seconds (>= 0, ms precision)' }),
  })
  .meta({ id: 'LedgerEntry' });

export const pairOutput = z
  .object({
    related_id: z.string(),
    payment_tx_id: z.string().nullable(),
    receive_tx_id: z.string().nullable(),
    pairing_status: z.enum(['COMPLETE', 'INCOMPLETE']),
    first_seen_at: timestamp,
    completed_at: timestamp.nullable(),
    conflict_count: z.number().int(),
    conflict_tx_ids: z.array(z.string()),
  })
  .meta({ id: 'PaymentLedgerPair' });

export const paymentOrderOutput = z
  .object({
    order_id: z.string(),
    status: z.string(),
    status_group: statusGroupSchema,
    amount: decimal,
    currency: z.string().nullable(),
    payer_wallet_id: z.string().nullable().meta({ description: 'masked unless the caller has ADMIN_AUDIT' }),
    payee_wallet_id: z.string().nullable().meta({ description: 'masked unless the caller has ADMIN_AUDIT' }),
    event_time: timestamp,
    updated_at: timestamp.nullable(),
    source_version: z.number().int().nullable(),
    ingested_at: timestamp,
    entries: z.array(ledgerEntryOutput),
    pair: pairOutput.nullable(),
  })
  .meta({ id: 'PaymentOrder' });

export const walletListOutput = z
  .object({
    wallet_id: z.string(),
    items: z.array(ledgerEntryOutput),
    next_cursor: z.string().nullable(),
  })
  .meta({ id: 'WalletTxPage' });

export type LedgerEntryView = z.output<typeof ledgerEntryOutput>;
export type PaymentOrderView = z.output<typeof paymentOrderOutput>;
export type PairView = z.output<typeof pairOutput>;
export type WalletListView = z.output<typeof walletListOutput>;
