// A Temporal client from the environment, and the UI link of a workflow.
import { Client, Connection } from '@temporalio/client';
import type { Env } from '../core/env';

export async function connectClient(e: Env): Promise<Client> {
  const connection = await Connection.connect({ address: e.TEMPORAL_ADDRESS });
  return new Client({ connection, namespace: e.TEMPORAL_NAMESPACE });
}

export function workflowUiUrl(e: Env, workflowId: string): string {
  return `${e.TEMPORAL_UI_URL}/namespaces/${encodeURIComponent(e.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}`;
}
