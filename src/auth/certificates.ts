// mTLS: the HTTPS options that ask for a client certificate, and the URI/DNS SANs of the
// certificate a request's connection presented. A certificate that fails verification (expired,
// another CA) still completes the handshake, so the caller gets a 401 that says why.
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';

export interface ServerTls {
  certFile: string;
  keyFile: string;
  clientCaFile?: string;
}

/** Options for Fastify's `https`: a client certificate is asked for when a client CA is configured, never required. */
export function httpsOptions(tls: ServerTls): { cert: Buffer; key: Buffer; ca?: Buffer; requestCert?: boolean; rejectUnauthorized?: boolean } {
  const base = { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
  if (!tls.clientCaFile) return base;
  // Not required at the handshake: JWKS readers and API-key callers connect without one.
  return { ...base, ca: readFileSync(tls.clientCaFile), requestCert: true, rejectUnauthorized: false };
}

export interface PeerCertificate {
  /** Verified against server.tls.client_ca_file and within its validity period. */
  authorized: boolean;
  /** Why not, as OpenSSL says it (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, …). */
  error?: string;
  uris: string[];
  dnsNames: string[];
}

/**
 * Node prints SANs as `URI:a, DNS:b`, and quotes a value as a JSON string when it contains a
 * comma, quote or other special character (since Node 17.3.1), so a value can never forge a second entry.
 */
export function parseSubjectAltName(text: string | undefined): { uris: string[]; dnsNames: string[] } {
  const uris: string[] = [];
  const dnsNames: string[] = [];
  const entry = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (const match of (text ?? '').matchAll(entry)) {
    const raw = match[2]!;
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (match[1] === 'URI') uris.push(value);
    if (match[1] === 'DNS') dnsNames.push(value);
  }
  return { uris, dnsNames };
}

/** The client certificate of the request's TLS connection, if it presented one. */
export function peerCertificate(request: FastifyRequest): PeerCertificate | undefined {
  const socket = request.raw.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const certificate = socket.getPeerCertificate();
  if (!certificate || Object.keys(certificate).length === 0) return undefined;
  const error = socket.authorizationError;
  return {
    authorized: socket.authorized === true,
    ...(error ? { error: typeof error === 'string' ? error : ((error as NodeJS.ErrnoException).code ?? error.message) } : {}),
    ...parseSubjectAltName(certificate.subjectaltname),
  };
}
