// Operator API under /v1/admin, with its own credentials (never a caller's API key):
// inspect rings and versions, rotate, revoke.
import type { FastifyPluginAsync } from 'fastify';
import { BackendUnavailableError, UnauthenticatedError } from '../errors.js';
import { checkText } from '../tokens/text.js';
import { findByKeyHash, presentedKeyHash } from '../tokens/api-keys.js';
import type { KeyRing } from '../keyring/keyring.js';
import { errorResponses, ringParams } from './schemas.js';
import { noteCaller } from '../observability/access-log.js';

const versionSchema = {
  type: 'object',
  properties: {
    version: { type: 'integer' },
    kid: { type: 'string' },
    state: { type: 'string' },
    created_at: { type: 'string' },
    signs_from: { type: 'string' },
    superseded_at: { type: 'string' },
    unpublish_at: { type: 'string' },
    integrity: { type: 'string' },
    canary_error: { type: 'string' },
  },
} as const;

const ringSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    backend: { type: 'string' },
    key: { type: 'string' },
    alg: { type: 'string' },
    issuer: { type: 'string' },
    signing_version: { type: ['integer', 'null'] },
    signing_early: { type: 'boolean' },
    next_change_at: { type: ['string', 'null'] },
    rotation_due_at: { type: ['string', 'null'] },
    refresh_error: { type: 'string' },
    versions: { type: 'array', items: versionSchema },
  },
} as const;

const iso = (ms: number | null | undefined): string | undefined => (ms === null || ms === undefined ? undefined : new Date(ms).toISOString());

export const adminRoutes: FastifyPluginAsync = async (app) => {
  const { keys, config, rotation, revocation, audit } = app.signet;
  const adminKeys = config.admin.keys.map((key) => ({ hash: Buffer.from(key.apiKeySha256, 'hex'), value: key.name }));
  /** The name of the admin key that authenticated each request, for the audit trail. */
  const admins = new WeakMap<object, string>();
  const adminOf = (request: object): string => admins.get(request) ?? 'unknown';

  app.addHook('onRequest', async (request) => {
    const name = findByKeyHash(adminKeys, presentedKeyHash(request.headers.authorization, 'admin API'));
    if (name === undefined) throw new UnauthenticatedError('unknown admin API key');
    admins.set(request, name);
    noteCaller(request, `admin:${name}`);
  });

  const describeRing = (ring: KeyRing) => {
    const { view, versions } = ring.current();
    const refreshError = ring.refreshError;
    return {
      name: ring.name,
      backend: ring.backend.kind,
      key: ring.config.key,
      alg: ring.config.alg,
      issuer: ring.config.issuer,
      signing_version: view.signing,
      signing_early: view.signingEarly,
      next_change_at: iso(view.nextChangeAt) ?? null,
      rotation_due_at: iso(view.rotationDueAt) ?? null,
      ...(refreshError ? { refresh_error: refreshError } : {}),
      versions: view.versions.map((status) => ({
        version: status.version,
        kid: ring.kidOf(status.version),
        state: status.state,
        created_at: versions.find((v) => v.version === status.version)?.createdAt.toISOString(),
        signs_from: iso(status.eligibleAt),
        superseded_at: iso(status.supersededAt),
        unpublish_at: iso(status.unpublishAt),
        ...(status.quarantined ? { integrity: 'quarantined: its backend key changed or vanished' } : {}),
        canary_error: ring.canaryFailures.get(status.version),
      })),
    };
  };

  const unauthorised = errorResponses(401, 404, 409, 503);
  const documented = { tags: ['admin'], security: [{ adminKey: [] }] };

  app.get('/v1/admin/rings', { schema: { ...documented, response: { 200: { description: 'Every loaded ring', type: 'object', properties: { rings: { type: 'array', items: ringSchema } } }, ...unauthorised } } }, async () => ({
    rings: [...keys.rings.values()].filter((ring) => ring.loaded).map(describeRing),
  }));

  app.get<{ Params: { ring: string } }>('/v1/admin/rings/:ring', { schema: { ...documented, params: ringParams, response: { 200: { description: 'One ring', ...ringSchema }, ...unauthorised } } }, async (request) =>
    describeRing(keys.ring(request.params.ring)),
  );

  app.post<{ Params: { ring: string } }>(
    '/v1/admin/rings/:ring/rotate',
    { schema: { ...documented, params: ringParams, response: { 200: { description: 'The new version', type: 'object', properties: { version: { type: 'integer' }, kid: { type: 'string' }, signs_from: { type: 'string' } } }, ...unauthorised } } },
    async (request) => {
      const ring = keys.ring(request.params.ring);
      const version = await rotation.rotateNow(ring);
      const status = ring.current().view.versions.find((v) => v.version === version);
      const kid = ring.kidOf(version);
      await audit.adminAction({ admin: adminOf(request), action: 'rotate', ring: ring.name, version, ...(kid ? { kid } : {}), client_address: request.ip, request_id: request.id });
      return { version, kid, signs_from: iso(status?.eligibleAt) };
    },
  );

  app.post<{ Params: { ring: string; version: string }; Body: { reason?: string } | undefined }>(
    '/v1/admin/rings/:ring/versions/:version/revoke',
    {
      // The body is optional: no body (or no Content-Type) means "no reason given".
      preValidation: async (request) => {
        request.body ??= {};
      },
      // The reason is signed into webhook events: the same text rules as every signed string.
      preHandler: async (request) => {
        if (request.body?.reason !== undefined) checkText(request.body.reason, 'reason');
      },
      schema: {
        ...documented,
        params: { type: 'object', required: ['ring', 'version'], properties: { ...ringParams.properties, version: { type: 'string', pattern: '^[1-9][0-9]{0,9}$' } } },
        body: { type: 'object', additionalProperties: false, properties: { reason: { type: 'string', maxLength: 500 } } },
        response: {
          200: {
            description: 'The revoked version and, when it was signing, its replacement',
            type: 'object',
            properties: {
              version: { type: 'integer' },
              kid: { type: 'string' },
              replacement: { type: 'object', properties: { version: { type: 'integer' }, kid: { type: 'string' } } },
              recorded_in: { type: 'array', items: { type: 'string' } },
            },
          },
          ...unauthorised,
        },
      },
    },
    async (request) => {
      const ring = keys.ring(request.params.ring);
      const admin = adminOf(request);
      const reason = request.body?.reason ?? 'revoked via admin API';
      const result = await revocation.revoke(ring, Number(request.params.version), reason, admin);
      await audit.adminAction({
        admin,
        action: 'revoke',
        ring: ring.name,
        version: result.version,
        ...(result.kid ? { kid: result.kid } : {}),
        reason,
        ...(result.replacement ? { replacement: result.replacement.version } : {}),
        client_address: request.ip,
        request_id: request.id,
      });
      if (result.replacementError) {
        const recorded = `version ${result.version} is revoked (recorded in ${result.recordedIn.join(', ')}), but nothing signs now: no replacement could be created`;
        throw new BackendUnavailableError(`${recorded} (${result.replacementError})`, { retryAfterSeconds: 30, publicMessage: `${recorded}. Signing resumes when a new version appears` });
      }
      return { version: result.version, kid: result.kid, replacement: result.replacement, recorded_in: result.recordedIn };
    },
  );
};
