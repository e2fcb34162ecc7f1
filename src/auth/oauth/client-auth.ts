// Client authentication at the token endpoint (RFC 6749 §2.3, RFC 7523, RFC 8705): exactly one
// method per request. Returns undefined when the request carries none (a token exchange whose
// subject_token identifies the client).
import type { FastifyRequest } from 'fastify';
import { UnauthenticatedError } from '../../errors.js';
import type { Caller, CallerSet } from '../callers.js';
import { peerCertificate } from '../certificates.js';
import { OAuthError } from './oauth-error.js';

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface ClientAuthParams {
  client_id?: string;
  client_secret?: string;
  client_assertion?: string;
  client_assertion_type?: string;
}

// RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded.
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

function basicCredentials(header: string): { id: string; secret: string } {
  const encoded = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header)?.[1];
  const decoded = encoded ? Buffer.from(encoded, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon < 1) throw new OAuthError('invalid_client', 'send client credentials as "Authorization: Basic base64(client_id:client_secret)"', 401, true);
  try {
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    throw new OAuthError('invalid_client', 'the Basic credentials are not form-urlencoded', 401, true);
  }
}

export async function authenticateClient(request: FastifyRequest, params: ClientAuthParams, clients: CallerSet, assertionAudiences: string[]): Promise<Caller | undefined> {
  const header = request.headers.authorization;
  const hasAssertion = params.client_assertion !== undefined || params.client_assertion_type !== undefined;
  const used = [header !== undefined, params.client_secret !== undefined, hasAssertion].filter(Boolean).length;
  if (used > 1) throw new OAuthError('invalid_request', 'use exactly one client authentication method per request (RFC 6749 section 2.3)');
  const basic = header !== undefined;
  try {
    if (basic) {
      const { id, secret } = basicCredentials(header);
      if (params.client_id !== undefined && params.client_id !== id) throw new OAuthError('invalid_request', 'client_id differs from the client in the Authorization header');
      return clients.fromSecret(id, secret, 'client_secret_basic');
    }
    if (params.client_secret !== undefined) {
      if (params.client_id === undefined) throw new OAuthError('invalid_request', 'client_secret_post needs client_id');
      return clients.fromSecret(params.client_id, params.client_secret, 'client_secret_post');
    }
    if (hasAssertion) {
      if (params.client_assertion_type !== JWT_BEARER_ASSERTION || params.client_assertion === undefined) {
        throw new OAuthError('invalid_request', `private_key_jwt needs client_assertion and client_assertion_type=${JWT_BEARER_ASSERTION}`);
      }
      return await clients.fromClientAssertion(params.client_assertion, params.client_id, assertionAudiences);
    }
    const peer = peerCertificate(request);
    if (peer && params.client_id !== undefined) return clients.fromTlsClientAuth(peer, params.client_id);
    return undefined;
  } catch (error) {
    if (error instanceof UnauthenticatedError) throw new OAuthError('invalid_client', error.message, 401, basic);
    throw error;
  }
}
