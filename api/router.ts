// The Admin API router: admin.{tx, paymentOrders, wallets}. One definition serves tRPC (/trpc) and REST.
import { paymentOrdersRouter } from './routers/paymentOrders';
import { txRouter } from './routers/tx';
import { walletsRouter } from './routers/wallets';
import { router } from './trpc';

export const appRouter = router({
  admin: router({
    tx: txRouter,
    paymentOrders: paymentOrdersRouter,
    wallets: walletsRouter,
  }),
});

export type AppRouter = typeof appRouter;
