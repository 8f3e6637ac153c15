// Typed client of the Admin API (tRPC over HTTP, batched). Type-only import of the router: using the
// client pulls in no server code.
import { createTRPCClient, httpBatchLink, type TRPCClient } from '@trpc/client';
import type { AppRouter } from './router';

export type { AppRouter };

export interface AdminClientOptions {
  /** API base URL (default http://127.0.0.1:8080); tRPC is served under `${url}/trpc`. */
  url?: string;
  /** Bearer token for AUTH_MODE=oidc. */
  token?: string;
}

export type AdminClient = TRPCClient<AppRouter>;

export function createAdminClient({
  url = 'http://127.0.0.1:8080',
  token,
}: AdminClientOptions = {}): AdminClient {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${url.replace(/\/+$/, '')}/trpc`,
        headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
      }),
    ],
  });
}
