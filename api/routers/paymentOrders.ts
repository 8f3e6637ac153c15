// admin.paymentOrders.get  <->  GET /admin/payment-orders/{order_id}
import { TRPCError } from '@trpc/server';
import { getPaymentOrder } from '../../db/lookups';
import { paymentOrderView } from '../present';
import { orderGetInput, paymentOrderOutput } from '../schemas';
import { auditLookup, protectedProcedure, router } from '../trpc';

export const paymentOrdersRouter = router({
  get: protectedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/payment-orders/{order_id}',
        tags: ['orders'],
        summary: 'One payment order with its ledger entries and pair (wallet ids masked without ADMIN_AUDIT)',
        errorResponses: [400, 401, 403, 404, 503],
      },
      audit: 'single',
    })
    .input(orderGetInput)
    .use(auditLookup)
    .output(paymentOrderOutput)
    .query(async ({ ctx, input }) => {
      const row = await getPaymentOrder(ctx.services.db, input.order_id);
      if (!row)
        throw new TRPCError({
          code: 'NOT_FOUND',
          message: `no payment order with order_id ${input.order_id}`,
        });
      return paymentOrderView(row, ctx.principal.roles);
    }),
});
