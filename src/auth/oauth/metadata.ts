// What OAuth clients discover (RFC 8414 and OIDC discovery): where the token endpoint is, and
// which grants and client authentication methods it takes.
import type { SignetConfig } from '../../config-schema.js';
import { PROVIDER_ALGS } from '../../config-schema.js';

export const TOKEN_ENDPOINT_PATH = '/oauth2/token';
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const GRANT_TYPES = ['client_credentials', TOKEN_EXCHANGE_GRANT] as const;

/** The members both discovery documents carry. */
export function tokenEndpointMetadata(config: SignetConfig) {
  return {
    token_endpoint: `${config.server.publicUrl}${TOKEN_ENDPOINT_PATH}`,
    grant_types_supported: [...GRANT_TYPES],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', ...(config.server.tls?.clientCaFile ? ['tls_client_auth'] : [])],
    token_endpoint_auth_signing_alg_values_supported: [...PROVIDER_ALGS],
  };
}

/** Allow-list schema of those members, for the discovery routes' response schemas. */
export const tokenEndpointMetadataSchema = {
  token_endpoint: { type: 'string' },
  grant_types_supported: { type: 'array', items: { type: 'string' } },
  token_endpoint_auth_methods_supported: { type: 'array', items: { type: 'string' } },
  token_endpoint_auth_signing_alg_values_supported: { type: 'array', items: { type: 'string' } },
} as const;

/** RFC 8414 authorization server metadata. */
export function authorizationServerMetadata(config: SignetConfig) {
  return {
    issuer: config.server.publicUrl,
    jwks_uri: `${config.server.publicUrl}/.well-known/jwks.json`,
    ...tokenEndpointMetadata(config),
    // Required by RFC 8414; empty because Signet has no authorization endpoint (no user-facing flows).
    response_types_supported: [] as string[],
    tls_client_certificate_bound_access_tokens: false,
  };
}
