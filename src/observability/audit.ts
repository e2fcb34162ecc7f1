// The audit trail: one JSON line per issued token and per admin action, written before the token
// or the admin's answer leaves (see line-sink.ts). If the record cannot be written, the token is
// not handed out: an unaudited token is worse than a 503.
import { AuditUnavailableError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { LineSink } from './line-sink.js';
import type { Metrics } from './metrics.js';

export interface TokenAuditRecord {
  jti: string;
  iat: number;
  exp: number;
  sub: string;
  aud: string | string[];
  ring: string;
  kid: string;
  client: string;
  client_address: string;
  request_id: string;
  /** How the client authenticated (api_key, workload_token, client_certificate, OAuth methods), and as whom. */
  auth?: { method: string; provider?: string; identity?: string };
  /** For tokens from /oauth2/token: the grant type. */
  grant_type?: string;
}

export interface AdminAuditRecord {
  admin: string;
  action: 'rotate' | 'revoke';
  ring: string;
  version?: number;
  kid?: string;
  reason?: string;
  replacement?: number;
  client_address: string;
  request_id: string;
}

export class AuditLog {
  constructor(
    private readonly sink: LineSink,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
  ) {}

  tokenIssued(record: TokenAuditRecord): Promise<void> {
    return this.append('token.issued', record);
  }

  adminAction(record: AdminAuditRecord): Promise<void> {
    return this.append(`admin.${record.action}`, record);
  }

  private async append(event: string, record: object): Promise<void> {
    // pino's shape (level 30 = info, time, msg), so log pipelines read audit lines like any other.
    this.sink.write(`${JSON.stringify({ level: 30, time: this.clock(), msg: event, audit: event, ...record })}\n`);
    try {
      await this.sink.flushed();
    } catch (error) {
      this.metrics.auditWriteFailures.inc();
      throw new AuditUnavailableError('the audit record could not be written, so nothing was handed out; retry later', { cause: error });
    }
  }
}
