// admin.wallets.listTx  <->  GET /admin/wallets/{wallet_id}/tx  (keyset pages, newest first)
import { TRPCError } from '@trpc/server';
import { listWalletEntries } from '../../db/lookups';
import { decodeCursor, encodeCursor } from '../cursor';
import { consumerContractOrderMissingTotal } from '../../core/metrics';
import { ledgerEntryView, orderMissing } from '../present';
import { walletListInput, walletListOutput } from '../schemas';
import { auditLookup, decodeRestPathParams, protectedProcedure, router } from '../trpc';

export const walletsRouter = router({
  listTx: protectedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/wallets/{wallet_id}/tx',
        tags: ['ledger'],
        summary: "A wallet's ledger entries, newest first (event_time desc, tx_id desc), keyset-paginated",
        errorResponses: [400, 401, 403, 503],
      },
      audit: 'list',
    })
    .use(decodeRestPathParams('wallet_id'))
    .input(walletListInput)
    .use(auditLookup)
    .output(walletListOutput)
    .query(async ({ ctx, input }) => {
      const secret = ctx.services.cursorSecret;
      let after: { eventTime: string; txId: string } | undefined;
      if (input.cursor !== undefined) {
        const pos = decodeCursor(input.cursor, input.wallet_id, secret);
        if (!pos)
          throw new TRPCError({ code: 'BAD_REQUEST', message: 'cursor is not valid for this wallet' });
        after = pos;
      }
      if (
        input.from !== undefined &&
        input.to !== undefined &&
        Date.parse(input.from) > Date.parse(input.to)
      ) {
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'from must not be after to' });
      }
      const rows = await listWalletEntries(ctx.services.db, {
        walletId: input.wallet_id,
        fetch: input.limit + 1,
        after,
        from: input.from,
        to: input.to,
        entryType: input.entry_type,
      });
      const page = rows.slice(0, input.limit);
      const missing = page.filter(orderMissing).length;
      if (missing > 0) consumerContractOrderMissingTotal.inc(missing);
      const last = page[page.length - 1];
      const nextCursor =
        rows.length > input.limit && last
          ? encodeCursor({ eventTime: last.cursor_time, txId: last.tx_id }, input.wallet_id, secret)
          : null;
      return { wallet_id: input.wallet_id, items: page.map(ledgerEntryView), next_cursor: nextCursor };
    }),
});
