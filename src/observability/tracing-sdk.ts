// The OpenTelemetry SDK, loaded only when tracing is on (tracing.ts imports this file lazily):
// a tracer provider with a batch processor and one OTLP/HTTP exporter, W3C trace context,
// @fastify/otel for the SERVER span of each request and the undici instrumentation for the Vault
// calls (client spans, traceparent sent on). The SDK reads the rest of the standard variables
// itself: OTEL_EXPORTER_OTLP_(TRACES_)HEADERS/TIMEOUT/COMPRESSION, OTEL_TRACES_SAMPLER(_ARG),
// OTEL_BSP_*, OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
import { createRequire } from 'node:module';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace-node';
import { ATTR_HTTP_ROUTE, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION, ATTR_URL_PATH } from '@opentelemetry/semantic-conventions';
import type { TracingConfig } from '../config-schema.js';
import { ATTR, type TracingRuntime } from './tracing.js';

/** Probes and scrapes: a trace every few seconds per replica that says nothing. */
const UNTRACED_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/readyz/signing', '/metrics']);

/** A collector that does not answer must not hold shutdown past this. */
const FLUSH_TIMEOUT_MS = 2000;

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

async function exporterFor(config: TracingConfig & { enabled: true }): Promise<SpanExporter> {
  // Only the encoding asked for is loaded. The URL comes from the config (config/tracing.ts).
  if (config.protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter({ url: config.endpoint });
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter({ url: config.endpoint });
}

export async function startTracingSdk(config: TracingConfig & { enabled: true }): Promise<TracingRuntime> {
  // Ours first, then what the environment says (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win).
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'signet', [ATTR_SERVICE_VERSION]: version }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(await exporterFor(config))] });
  // Global provider, AsyncLocalStorage context manager, W3C traceparent + baggage propagation.
  provider.register();

  // Client spans only inside a trace: background health probes and the like stay untraced.
  new UndiciInstrumentation({ requireParentforSpans: true });
  const fastifyOtel = new FastifyOtelInstrumentation({
    // One SERVER span per request. Hook and handler spans (a dozen per request here) would bury the
    // token issue span; exceptions carry messages and stacks, which stay in the log.
    instrumentHooks: false,
    instrumentHandler: false,
    recordExceptions: false,
    ignorePaths: ({ url }) => UNTRACED_ROUTES.has(url.split('?')[0]!),
    requestHook: (span, request) => {
      const route = request.routeOptions.url;
      // HTTP semantic conventions: "{method} {route}"; the path without its query string.
      span.updateName(route ? `${request.method} ${route}` : request.method);
      span.setAttribute(ATTR_URL_PATH, request.url.split('?')[0]!);
      if (route) span.setAttribute(ATTR_HTTP_ROUTE, route);
      span.setAttribute(ATTR.requestId, request.id);
    },
  });

  return {
    fastifyPlugin: () => fastifyOtel.plugin(),
    flush: async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([provider.forceFlush().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, FLUSH_TIMEOUT_MS)))]);
      clearTimeout(timer);
    },
  };
}
