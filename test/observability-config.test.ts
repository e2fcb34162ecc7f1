// Which standard OTEL_* variables turn tracing on (and which keep it off), what they are checked
// for, and that a gateway built with tracing off sends nothing to a collector even when one is
// named; the access log switch (server.access_log, SIGNET_ACCESS_LOG).
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { tracing } from '../src/observability/tracing.js';
import { configFailure, configFrom, openClient, requestToken, startGateway, tempDir } from './helpers/gateway.js';
import { OtlpReceiver } from './helpers/otlp-receiver.js';

const base = () => ({
  backends: { dev: { type: 'local', data_dir: tempDir() } },
  rings: [{ name: 'main', backend: 'dev', alg: 'ES256', create_if_missing: true }],
  clients: [openClient()],
});

const failure = (env: Record<string, string>, raw: Record<string, unknown> = base()): ConfigError => configFailure(raw, env);

describe('tracing switch (standard OTEL_* variables)', () => {
  it.each([
    ['nothing set', {}, { enabled: false }],
    ['an endpoint: the traces path is added', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, { enabled: true, endpoint: 'http://collector:4318/v1/traces', protocol: 'http/protobuf' }],
    ['an endpoint with a trailing slash', { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318/' }, { enabled: true, endpoint: 'https://collector:4318/v1/traces', protocol: 'http/protobuf' }],
    ['the traces endpoint, used as given, wins', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9999/custom' }, { enabled: true, endpoint: 'http://b:9999/custom', protocol: 'http/protobuf' }],
    ['OTEL_TRACES_EXPORTER=otlp alone: the spec default endpoint', { OTEL_TRACES_EXPORTER: 'otlp' }, { enabled: true, endpoint: 'http://localhost:4318/v1/traces', protocol: 'http/protobuf' }],
    ['JSON', { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, { enabled: true, endpoint: 'http://localhost:4318/v1/traces', protocol: 'http/json' }],
    ['the traces protocol wins', { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }, { enabled: true, endpoint: 'http://localhost:4318/v1/traces', protocol: 'http/json' }],
    ['OTEL_TRACES_EXPORTER=none beats an endpoint', { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, { enabled: false }],
    ['OTEL_SDK_DISABLED=true beats everything', { OTEL_SDK_DISABLED: 'TRUE', OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, { enabled: false }],
    ['other OTEL_* variables alone', { OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_HEADERS: 'a=b', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, { enabled: false }],
  ])('%s', (_name, env, expected) => {
    expect(configFrom(base(), env).tracing).toEqual(expected);
  });

  it.each([
    ['an exporter Signet does not have', { OTEL_TRACES_EXPORTER: 'zipkin' }, 'OTEL_TRACES_EXPORTER', /OTLP\/HTTP only.*zipkin/],
    ['gRPC', { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL', /http\/protobuf or http\/json/],
    ['an endpoint that is not a URL', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', /http\(s\) URL/],
  ])('refuses %s, naming the variable', (_name, env, field, message) => {
    const error = failure(env);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });

  it('off: nothing is started or sent, even with a collector named', async () => {
    const receiver = await OtlpReceiver.start();
    try {
      const envs: Array<Record<string, string>> = [{}, { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }];
      for (const env of envs) {
        const gateway = await startGateway(configFrom(base(), env));
        const response = await requestToken(gateway.url, { audience: 'https://api.test' });
        expect(response.status).toBe(200);
        await gateway.close();
      }
      expect(tracing.on).toBe(false); // no SDK was started in this process
      expect(receiver.received).toEqual([]);
    } finally {
      await receiver.close();
    }
  });
});

describe('access log switch', () => {
  it('is off by default; server.access_log or SIGNET_ACCESS_LOG turns it on; the variable wins', () => {
    expect(configFrom(base()).server.accessLog).toBe(false);
    expect(configFrom({ ...base(), server: { access_log: true } }).server.accessLog).toBe(true);
    expect(configFrom(base(), { SIGNET_ACCESS_LOG: 'true' }).server.accessLog).toBe(true);
    expect(configFrom({ ...base(), server: { access_log: true } }, { SIGNET_ACCESS_LOG: 'false' }).server.accessLog).toBe(false);
  });

  it('refuses a value that is not true or false, naming where it came from', () => {
    expect(failure({ SIGNET_ACCESS_LOG: 'yes' }).field).toBe('SIGNET_ACCESS_LOG');
    expect(failure({}, { ...base(), server: { access_log: 'on' } }).field).toBe('server.access_log');
  });
});
