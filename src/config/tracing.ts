// Whether Signet exports traces, from the standard OpenTelemetry SDK variables
// (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/). Off unless
// asked for: OTEL_TRACES_EXPORTER=otlp, or an OTLP endpoint with OTEL_TRACES_EXPORTER unset.
// OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none always win. Headers, timeout, sampler,
// batching and resource attributes are read by the SDK itself from the same environment.
import { ConfigError } from '../errors.js';
import { TRACE_PROTOCOLS, type TraceProtocol, type TracingConfig } from '../config-schema.js';
import type { Env } from './load.js';

const EXPORTERS: ReadonlySet<string> = new Set(['otlp', 'none']);
/** The spec's default OTLP/HTTP endpoint. */
const DEFAULT_BASE_ENDPOINT = 'http://localhost:4318';

function endpointUrl(variable: string, value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(variable, `must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(variable, `must be an http(s) URL, got ${JSON.stringify(value)}`);
  return value;
}

export function parseTracing(env: Env): TracingConfig {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return { enabled: false };
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
  const unknown = exporters.filter((name) => !EXPORTERS.has(name));
  if (unknown.length > 0) {
    throw new ConfigError('OTEL_TRACES_EXPORTER', `Signet exports traces over OTLP/HTTP only: set otlp (or none), not ${unknown.join(', ')}`);
  }
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const baseEndpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const wanted = exporters.length > 0 ? exporters.includes('otlp') && !exporters.includes('none') : tracesEndpoint !== undefined || baseEndpoint !== undefined;
  if (!wanted) return { enabled: false };

  const protocolVariable = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = (env[protocolVariable] ?? 'http/protobuf').trim();
  if (!(TRACE_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new ConfigError(protocolVariable, `must be ${TRACE_PROTOCOLS.join(' or ')} (Signet has no gRPC exporter), got ${JSON.stringify(protocol)}`);
  }
  // The signal-specific endpoint is used as given; the base one gets the signal's path (spec).
  const endpoint = tracesEndpoint !== undefined
    ? endpointUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesEndpoint)
    : `${endpointUrl('OTEL_EXPORTER_OTLP_ENDPOINT', baseEndpoint ?? DEFAULT_BASE_ENDPOINT).replace(/\/+$/, '')}/v1/traces`;
  return { enabled: true, endpoint, protocol: protocol as TraceProtocol };
}
