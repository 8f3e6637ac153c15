// admin.tx.get  <->  GET /admin/tx/{tx_id}
import { TRPCError } from '@trpc/server';
import { consumerContractOrderMissingTotal } from '../../core/metrics';
import { ledgerEntryView, orderMissing } from '../present';
import { ledgerEntryOutput, txGetInput } from '../schemas';
import { auditLookup, protectedProcedure, router } from '../trpc';

export const txRouter = router({
  get: protectedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/tx/{tx_id}',
        tags: ['ledger'],
        summary: 'One ledger entry by tx_id, with its order status and pairing',
        errorResponses: [400, 401, 403, 404, 503],
      },
      audit: 'single',
    })
    .input(txGetInput)
    .use(auditLookup)
    .output(ledgerEntryOutput)
    .query(async ({ ctx, input }) => {
      const row = await ctx.services.entries.submit(input.tx_id);
      if (!row)
        throw new TRPCError({ code: 'NOT_FOUND', message: `no ledger entry with tx_id ${input.tx_id}` });
      if (orderMissing(row)) consumerContractOrderMissingTotal.inc();
      return ledgerEntryView(row);
    }),
});
