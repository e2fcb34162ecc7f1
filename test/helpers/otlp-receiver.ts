// A minimal OTLP/HTTP receiver for tests: accepts POST /v1/traces, keeps every request, and reads
// the JSON encoding (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json) into flat span records.
import { createServer, type Server } from 'node:http';

export interface ReceivedExport {
  path: string;
  contentType: string | undefined;
  body: Buffer;
}

export interface ExportedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
  links: Array<{ traceId: string; spanId: string }>;
  resource: Record<string, unknown>;
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;
export const STATUS_ERROR = 2;

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number; arrayValue?: { values?: AnyValue[] } };
type KeyValue = { key: string; value: AnyValue };

function valueOf(value: AnyValue): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, valueOf(value)]));
}

interface JsonExport {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: Array<{
      spans?: Array<{
        name: string;
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        kind: number;
        attributes?: KeyValue[];
        status?: { code?: number; message?: string };
        links?: Array<{ traceId: string; spanId: string }>;
      }>;
    }>;
  }>;
}

export class OtlpReceiver {
  private constructor(
    private readonly server: Server,
    readonly url: string,
    /** Every export request, in arrival order. */
    readonly received: ReceivedExport[],
  ) {}

  static async start(): Promise<OtlpReceiver> {
    const received: ReceivedExport[] = [];
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ path: request.url ?? '', contentType: request.headers['content-type'], body: Buffer.concat(chunks) });
        // An empty ExportTraceServiceResponse: full success.
        const json = (request.headers['content-type'] ?? '').includes('json');
        response.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    return new OtlpReceiver(server, `http://127.0.0.1:${address.port}`, received);
  }

  /** Every span received so far (JSON exports only). */
  spans(): ExportedSpan[] {
    const spans: ExportedSpan[] = [];
    for (const { body, contentType } of this.received) {
      if (!contentType?.includes('json')) continue;
      const parsed = JSON.parse(body.toString()) as JsonExport;
      for (const resourceSpans of parsed.resourceSpans ?? []) {
        const resource = attributesOf(resourceSpans.resource?.attributes);
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            spans.push({
              name: span.name,
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId || undefined,
              kind: span.kind,
              attributes: attributesOf(span.attributes),
              status: span.status ?? {},
              links: span.links ?? [],
              resource,
            });
          }
        }
      }
    }
    return spans;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
