// Audiences of the gateway's own tokens (webhook events, canaries). No client may ask for one, so
// a receiver that checks `aud` can never be handed a caller's token as an event.

export const RESERVED_AUDIENCE_PREFIX = 'urn:signet:';

/** The `aud` of a webhook event for the hook at `url` (README: "Webhooks"). */
export function eventAudience(url: string): string {
  return `${RESERVED_AUDIENCE_PREFIX}webhook:${url}`;
}

/** The `aud` of the throw-away token a version signs before its first signing. */
export const CANARY_AUDIENCE = `${RESERVED_AUDIENCE_PREFIX}canary`;
