// Schemas more than one route uses: the error body every route answers with, and the ring parameter.
export const errorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

/** Response schemas for the error statuses a route may produce. */
export function errorResponses(...statuses: number[]): Record<number, typeof errorBody> {
  return Object.fromEntries(statuses.map((status) => [status, errorBody]));
}

/** `:ring` in a URL: the same rule as ring names in the config. */
export const ringParams = {
  type: 'object',
  required: ['ring'],
  properties: { ring: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' } },
} as const;
