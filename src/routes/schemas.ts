// Schemas more than one route uses: the error body every route answers with, and the ring parameter.
export const errorBody = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: { code: { type: 'string', pattern: '^ERR_[A-Z0-9_]+$' }, message: { type: 'string' } },
    },
  },
} as const;

const STATUS_TEXT: Readonly<Record<string, string>> = {
  400: 'Bad request (see error.code)',
  401: 'No or unknown bearer key',
  403: "Outside the caller's policy",
  404: 'No such ring, version or route',
  405: 'Method not allowed on this path',
  409: 'Conflict',
  413: 'Body too large',
  415: 'Body not application/json in UTF-8, or compressed',
  429: 'Rate limited; see Retry-After',
  431: 'Request headers too large',
  500: 'Internal error',
  502: 'The key backend answered with something unusable',
  503: 'The key backend or shared state is unavailable, or the replica is shutting down; see Retry-After',
  '4xx': 'Any other client error, in the documented error body',
  '5xx': 'Any other server error, in the documented error body',
};

/**
 * Response schemas for the error statuses a route may produce, plus 4xx/5xx catch-alls: the
 * HTTP-level answers (malformed framing, duplicated headers, shutdown) can reach any route.
 */
export function errorResponses(...statuses: number[]): Record<string, typeof errorBody & { description: string }> {
  return Object.fromEntries([...statuses.map(String), '4xx', '5xx'].map((status) => [status, { ...errorBody, description: STATUS_TEXT[status] ?? 'Error' }]));
}

/** `:ring` in a URL: the same rule as ring names in the config. */
export const ringParams = {
  type: 'object',
  required: ['ring'],
  properties: { ring: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' } },
} as const;
