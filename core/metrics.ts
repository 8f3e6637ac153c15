// Every Prometheus metric of the project is declared here, once (SPEC §7 fixes the names).
// Each process (API, consumer, worker) exposes the same registry; series a process never touches stay empty.
import http from 'node:http';
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

const ms = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5];
const lagBuckets = [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400];

// --- API -------------------------------------------------------------------------------------------
export const apiRequestLatency = new client.Histogram({
  name: 'api_request_latency_seconds',
  help: 'Admin API request latency by route template',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: ms,
  registers: [registry],
});
export const apiRequestsTotal = new client.Counter({
  name: 'api_requests_total',
  help: 'Admin API requests by route template and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});
export const apiRequestsInflight = new client.Gauge({
  name: 'api_requests_inflight',
  help: 'Admin API requests being served',
  registers: [registry],
});
export const apiAuthFailuresTotal = new client.Counter({
  name: 'api_auth_failures_total',
  help: 'Rejected Admin API calls (401/403) by reason',
  labelNames: ['reason'] as const,
  registers: [registry],
});
export const apiAuditWriteFailuresTotal = new client.Counter({
  name: 'api_audit_write_failures_total',
  help: 'Lookups refused (503) because their audit row could not be committed',
  registers: [registry],
});

// --- DB --------------------------------------------------------------------------------------------
export const dbQueryLatency = new client.Histogram({
  name: 'db_query_latency_seconds',
  help: 'Backoffice DB query latency by operation',
  labelNames: ['op'] as const,
  buckets: ms,
  registers: [registry],
});
export const dbQueriesTotal = new client.Counter({
  name: 'db_queries_total',
  help: 'Backoffice DB queries by operation and outcome',
  labelNames: ['op', 'outcome'] as const,
  registers: [registry],
});
export const dbPoolTotal = new client.Gauge({
  name: 'db_pool_total',
  help: 'Connections in the pool',
  registers: [registry],
});
export const dbPoolIdle = new client.Gauge({
  name: 'db_pool_idle',
  help: 'Idle pooled connections',
  registers: [registry],
});
export const dbPoolWaiting = new client.Gauge({
  name: 'db_pool_waiting',
  help: 'Callers waiting for a pooled connection',
  registers: [registry],
});
export const dbReplicationLag = new client.Gauge({
  name: 'db_replication_lag_seconds',
  help: 'Replay lag of the Backoffice DB when it is a replica (0 on a primary)',
  registers: [registry],
});

// --- Consumer --------------------------------------------------------------------------------------
export const consumerMessagesTotal = new client.Counter({
  name: 'consumer_messages_total',
  help: 'Consumed messages by stream and outcome (inserted, updated, stale, conflict, dlq)',
  labelNames: ['source', 'stream', 'outcome'] as const,
  registers: [registry],
});
export const consumerEventLag = new client.Histogram({
  name: 'consumer_event_lag_seconds',
  help: 'DB commit time minus the event_time of applied events',
  labelNames: ['stream'] as const,
  buckets: lagBuckets,
  registers: [registry],
});
export const consumerFreshness = new client.Histogram({
  name: 'consumer_freshness_seconds',
  help: 'DB commit time minus the Kafka record timestamp',
  labelNames: ['stream'] as const,
  buckets: lagBuckets,
  registers: [registry],
});
export const consumerKafkaLag = new client.Gauge({
  name: 'consumer_kafka_lag',
  help: 'High watermark minus the next offset to consume, per partition',
  labelNames: ['topic', 'partition'] as const,
  registers: [registry],
});
export const consumerDlqTotal = new client.Counter({
  name: 'consumer_dlq_total',
  help: 'Messages dead-lettered by reason and source (consumer, backfill, replay)',
  labelNames: ['reason', 'source'] as const,
  registers: [registry],
});
export const consumerVersionMissingTotal = new client.Counter({
  name: 'consumer_version_missing_total',
  help: 'Applied events with neither updated_at nor source_version (LWW falls back to arrival order)',
  labelNames: ['stream'] as const,
  registers: [registry],
});
export const consumerContractStatusUnknownTotal = new client.Counter({
  name: 'consumer_contract_status_unknown_total',
  help: 'Payment order statuses outside the frozen status set v2 (mapped to UNKNOWN)',
  registers: [registry],
});
export const consumerContractOrderMissingTotal = new client.Counter({
  name: 'consumer_contract_order_missing_total',
  help: 'Ledger entries served whose PAYMENT_ORDER row is absent (status null, status_group UNKNOWN; SPEC 1.3), counted by the Admin API where they are served',
  registers: [registry],
});
export const consumerContractProfileInfo = new client.Gauge({
  name: 'consumer_contract_profile_info',
  help: 'The event profile in use (value 1)',
  labelNames: ['profile'] as const,
  registers: [registry],
});
export const consumerTransientRetriesTotal = new client.Counter({
  name: 'consumer_transient_retries_total',
  help: 'Batches retried after a transient failure (never dead-lettered)',
  registers: [registry],
});

// --- Pairing ---------------------------------------------------------------------------------------
export const pairingOutcomesTotal = new client.Counter({
  name: 'pairing_outcomes_total',
  help: 'Pair transitions: opened (INCOMPLETE), completed (COMPLETE), conflict, unpairable',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
export const pairingIncompletePairs = new client.Gauge({
  name: 'pairing_incomplete_pairs',
  help: 'Pairs with one side only',
  registers: [registry],
});
export const pairingPairs = new client.Gauge({
  name: 'pairing_pairs',
  help: 'All pairs (one row per related_id)',
  registers: [registry],
});

// --- Operations (Temporal) -------------------------------------------------------------------------
export const opsRunsTotal = new client.Counter({
  name: 'ops_runs_total',
  help: 'Operational workflow runs finished, by workflow and verdict',
  labelNames: ['workflow', 'verdict'] as const,
  registers: [registry],
});
export const opsLastRunSuccess = new client.Gauge({
  name: 'ops_last_run_success',
  help: '1 if the last run of the workflow passed, 0 if it failed',
  labelNames: ['workflow'] as const,
  registers: [registry],
});

/** A bare /metrics endpoint for processes that have no HTTP server of their own (consumer, worker). */
export function serveMetrics(port: number, host = '127.0.0.1'): http.Server {
  const server = http.createServer((req, res) => {
    if (req.url === '/metrics') {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        })
        .catch((err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        });
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  server.listen(port, host);
  return server;
}
