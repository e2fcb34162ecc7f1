// OpenTelemetry tracing, off by default (config/tracing.ts says when it is on). Code on the token
// path asks `tracing.on` before it makes a span, so with tracing off it pays one property read;
// the SDK, the exporter and the instrumentations are imported only when tracing starts
// (tracing-sdk.ts). Spans carry names, rings, algs, client names, versions and stable error
// codes: never a token, a claim value, a key or a credential.
import { context, trace, SpanKind, SpanStatusCode, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import type { TracingConfig } from '../config-schema.js';
import { GatewayError } from '../errors.js';

/** Whether tracing runs in this process: set once the SDK has started, never unset. */
export const tracing = { on: false };

/** The API's no-op tracer until the SDK registers its provider (ProxyTracer). */
export const tracer = trace.getTracer('signet');

/** Span and attribute names, in one place. */
export const SPAN = {
  tokenIssue: 'signet.token.issue',
  backendSign: 'signet.backend.sign',
  refresh: 'signet.keys.refresh',
} as const;

export const ATTR = {
  ring: 'signet.ring',
  alg: 'signet.alg',
  client: 'signet.client',
  backend: 'signet.backend',
  version: 'signet.key.version',
  kid: 'signet.kid',
  batchSize: 'signet.batch.size',
  batchFailed: 'signet.batch.failed',
  requestId: 'signet.request_id',
  jwksRing: 'signet.jwks.ring',
  notModified: 'signet.jwks.not_modified',
  errorType: 'error.type',
} as const;

export interface TracingRuntime {
  /** @fastify/otel's plugin: one SERVER span per request, the caller's traceparent honoured. */
  fastifyPlugin(): FastifyPluginCallback;
  /** Exports every finished span; bounded, so a dead collector cannot hold shutdown. */
  flush(): Promise<void>;
}

let runtime: Promise<TracingRuntime> | undefined;

/** Starts the SDK once per process (every app built in it shares the provider). */
export function startTracing(config: TracingConfig & { enabled: true }): Promise<TracingRuntime> {
  runtime ??= import('./tracing-sdk.js').then(async (sdk) => {
    const started = await sdk.startTracingSdk(config);
    tracing.on = true;
    return started;
  });
  return runtime;
}

export function startSpan(name: string, attributes: Attributes, parent?: Context, links?: Link[], kind: SpanKind = SpanKind.INTERNAL): Span {
  return tracer.startSpan(name, { kind, attributes, ...(links && links.length > 0 ? { links } : {}) }, parent ?? context.active());
}

/** `parent` with `span` as its current span: pass it on to make children of `span`. */
export function withSpan(span: Span, parent?: Context): Context {
  return trace.setSpan(parent ?? context.active(), span);
}

/** Runs `work` with `span` current, so instrumented clients (undici) make their spans its children. */
export function runInSpan<T>(span: Span, parent: Context | undefined, work: () => Promise<T>): Promise<T> {
  return context.with(withSpan(span, parent), work);
}

/**
 * `work` inside a new span, child of `parent` (or of the active span). By default only inside a
 * trace: with no span to be a child of (a webhook's signature, a start-up call) nothing is
 * recorded; `orStartTrace` makes such a span the root of a new trace instead (background work).
 */
export async function traced<T>(name: string, attributes: Attributes, work: () => Promise<T>, options: { parent?: Context; orStartTrace?: boolean } = {}): Promise<T> {
  const base = options.parent ?? context.active();
  if (!tracing.on || (!options.orStartTrace && trace.getSpan(base) === undefined)) return work();
  const span = startSpan(name, attributes, base);
  try {
    return await context.with(trace.setSpan(base, span), work);
  } catch (error) {
    failSpan(span, errorCode(error));
    throw error;
  } finally {
    span.end();
  }
}

/** The attributes of a backend sign span. */
export function signAttributes(backend: string, ring: string, version: number, batchSize: number): Attributes {
  return { [ATTR.backend]: backend, [ATTR.ring]: ring, [ATTR.version]: version, [ATTR.batchSize]: batchSize };
}

/** The stable code of any failure, for span status and `error.type`. */
export function errorCode(error: unknown): string {
  if (error instanceof GatewayError) return error.code;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^ERR_[A-Z0-9_]+$/.test(code) ? code : 'ERR_INTERNAL';
}

/** Marks `span` failed with the stable code only: messages may quote a backend and stay in the log. */
export function failSpan(span: Span, code: string): void {
  span.setAttribute(ATTR.errorType, code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: code });
}

interface OtelRequest {
  opentelemetry?: () => { span?: Span; context?: Context };
}

/** The request's SERVER span context (from @fastify/otel), when tracing is on. */
export function requestTraceContext(request: FastifyRequest): Context | undefined {
  if (!tracing.on) return undefined;
  return (request as unknown as OtelRequest).opentelemetry?.().context ?? undefined;
}

/** The request's SERVER span, when tracing is on and it records. */
export function requestSpan(request: FastifyRequest): Span | undefined {
  if (!tracing.on) return undefined;
  const span = (request as unknown as OtelRequest).opentelemetry?.().span;
  return span?.isRecording() ? span : undefined;
}

/** The trace id of the request's SERVER span (sampled or not), when tracing is on. */
export function requestTraceId(request: FastifyRequest): string | undefined {
  if (!tracing.on) return undefined;
  // The context outlives the span: @fastify/otel forgets the span once it has ended it (onSend).
  const traceContext = (request as unknown as OtelRequest).opentelemetry?.().context;
  const spanContext = traceContext ? trace.getSpanContext(traceContext) : undefined;
  return spanContext && trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

/** Sets the failure of a request on its SERVER span, by stable code (the error handlers call it). */
export function failRequestSpan(request: FastifyRequest, code: string): void {
  const span = requestSpan(request);
  if (span) failSpan(span, code);
}
