// GET /openapi.json: generated from the tRPC router by trpc-to-openapi (one definition for both sides),
// then aligned with what the REST side really answers: every error is { code, message, request_id },
// every response carries x-request-id, and the ops endpoints are listed too.
import { generateOpenApiDocument, type OpenAPIObject } from 'trpc-to-openapi';
import { API_ERROR_STATUS } from './errors';
import { appRouter } from './router';

type SchemaObject = NonNullable<NonNullable<OpenAPIObject['components']>['schemas']>[string];

const ERROR_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['code', 'message', 'request_id'],
  properties: {
    code: { type: 'string', enum: Object.keys(API_ERROR_STATUS) },
    message: { type: 'string' },
    request_id: { type: 'string', description: 'the x-request-id of the call' },
  },
  example: { code: 'NOT_FOUND', message: 'no ledger entry with tx_id tx-1', request_id: '3f1c0b1e-...' },
};

const REQUEST_ID_HEADER = {
  description: "the caller's x-request-id if it is 1..128 chars of [A-Za-z0-9._:-], else a generated UUID",
  schema: { type: 'string' },
};

const errorResponse = (description: string) => ({
  description,
  headers: { 'x-request-id': REQUEST_ID_HEADER },
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiError' } } },
});

const ERROR_DESCRIPTIONS: Record<string, string> = {
  '400': 'Invalid input (an id breaking the id rule, a bad cursor, limit or timestamp)',
  '401': 'Missing or invalid bearer token (WWW-Authenticate: Bearer)',
  '403': 'Valid token without ADMIN_READ or ADMIN_AUDIT',
  '404': 'Not found',
  '500': 'Internal error',
  '503': 'Audit log or database unavailable; the lookup was refused',
};

const OPS_PATHS = {
  '/healthz': {
    get: {
      operationId: 'healthz',
      tags: ['ops'],
      summary: 'Process is up',
      security: [],
      responses: { '200': { description: '{"status":"ok"}' } },
    },
  },
  '/readyz': {
    get: {
      operationId: 'readyz',
      tags: ['ops'],
      summary: 'Backoffice DB reachable (SELECT 1)',
      security: [],
      responses: {
        '200': { description: '{"status":"ready"}' },
        '503': errorResponse('Database unreachable'),
      },
    },
  },
  '/metrics': {
    get: {
      operationId: 'metrics',
      tags: ['ops'],
      summary: 'Prometheus metrics',
      security: [],
      responses: { '200': { description: 'Prometheus text exposition format' } },
    },
  },
};

export function buildOpenApiDocument(baseUrl: string): OpenAPIObject {
  const doc = generateOpenApiDocument(appRouter, {
    title: 'tx-lookup Admin API',
    description:
      'Audited, tx_id-centric lookups over the Backoffice DB. The same procedures are served as tRPC at /trpc ' +
      '(admin.tx.get, admin.paymentOrders.get, admin.wallets.listTx). Every 200/404 lookup is audited.',
    version: '1.0.0',
    baseUrl,
    securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    tags: ['ledger', 'orders', 'ops'],
  });
  doc.components = { ...doc.components, schemas: { ...doc.components?.schemas, ApiError: ERROR_SCHEMA } };
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(
      item as Record<string, { responses?: Record<string, Record<string, unknown>> }>,
    )) {
      if (!op.responses) continue;
      for (const [status, response] of Object.entries(op.responses)) {
        if (status === '200') {
          response.headers = {
            ...(response.headers as object | undefined),
            'x-request-id': REQUEST_ID_HEADER,
          };
        } else {
          op.responses[status] = errorResponse(ERROR_DESCRIPTIONS[status] ?? 'Error');
        }
      }
    }
  }
  doc.paths = { ...doc.paths, ...OPS_PATHS };
  return doc;
}
