// The one error body of the REST side (SPEC §4.3): { code, message, request_id } with the matching status.
// tRPC error codes are folded onto the small public set so clients only ever see these six.
import { stringResponse } from './response-body';

export const API_ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_SERVER_ERROR: 500,
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

export interface ApiErrorBody {
  code: ApiErrorCode;
  message: string;
  request_id: string;
}

/** Map any tRPC error code (or unknown string) onto the public error codes. */
export function publicErrorCode(trpcCode: unknown): ApiErrorCode {
  switch (trpcCode) {
    case 'BAD_REQUEST':
    case 'PARSE_ERROR':
    case 'UNPROCESSABLE_CONTENT':
    case 'PAYLOAD_TOO_LARGE':
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 'BAD_REQUEST';
    case 'UNAUTHORIZED':
      return 'UNAUTHORIZED';
    case 'FORBIDDEN':
      return 'FORBIDDEN';
    case 'NOT_FOUND':
    case 'METHOD_NOT_SUPPORTED':
      return 'NOT_FOUND';
    case 'SERVICE_UNAVAILABLE':
    case 'TIMEOUT':
    case 'GATEWAY_TIMEOUT':
    case 'TOO_MANY_REQUESTS':
      return 'SERVICE_UNAVAILABLE';
    default:
      return 'INTERNAL_SERVER_ERROR';
  }
}

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export function jsonResponse(status: number, body: unknown, headers?: Record<string, string>): Response {
  return stringResponse(JSON.stringify(body), {
    status,
    headers: { 'content-type': JSON_CONTENT_TYPE, 'cache-control': 'no-store', ...headers },
  });
}

export function errorResponse(code: ApiErrorCode, message: string, requestId: string): Response {
  const body: ApiErrorBody = { code, message, request_id: requestId };
  return jsonResponse(API_ERROR_STATUS[code], body);
}

/** A readable one-line message from zod-style issues: "tx_id: must be 1..128 chars of [A-Za-z0-9._:-]". */
export function formatIssues(issues: unknown): string | null {
  if (!Array.isArray(issues) || issues.length === 0) return null;
  const parts = issues.slice(0, 5).map((issue: unknown) => {
    const i = issue as { path?: unknown; message?: unknown };
    const path = Array.isArray(i.path) && i.path.length > 0 ? `${i.path.map(String).join('.')}: ` : '';
    return `${path}${typeof i.message === 'string' ? i.message : 'invalid'}`;
  });
  return parts.join('; ');
}
