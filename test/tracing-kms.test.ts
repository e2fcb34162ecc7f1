// Tracing with the AWS KMS backend (moto): one backend sign span per Sign call (batch size 1), and
// under it the KMS.Sign CLIENT span with KMS's own request id, the one CloudTrail records. The
// gateway runs in this test's process; closing it flushes the spans.
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { MOTO_REGION, provisionKmsVersion, useDummyAwsCredentials } from './harness/kms.js';
import { configFrom, openClient, requestToken, startGateway } from './helpers/gateway.js';
import { OtlpReceiver, SPAN_KIND } from './helpers/otlp-receiver.js';

describe('tracing (in-process gateway, KMS on moto)', () => {
  it('exports token issue → backend sign → KMS.Sign with aws.request_id', async () => {
    useDummyAwsCredentials();
    const motoUrl = inject('motoUrl');
    const key = `signet-trace-${randomBytes(4).toString('hex')}`;
    await provisionKmsVersion(motoUrl, key, 'ES256');
    const receiver = await OtlpReceiver.start();
    try {
      const gateway = await startGateway(
        configFrom(
          { backends: { kms: { type: 'aws-kms', region: MOTO_REGION, endpoint: motoUrl } }, rings: [{ name: 'kms', backend: 'kms', key, alg: 'ES256' }], clients: [openClient()] },
          { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' },
        ),
      );
      expect((await requestToken(gateway.url, { audience: 'https://api.test' })).status).toBe(200);
      await gateway.close();

      const spans = receiver.spans();
      const issue = spans.find((s) => s.name === 'signet.token.issue');
      expect(issue?.attributes).toMatchObject({ 'signet.backend': 'aws-kms', 'signet.ring': 'kms', 'signet.alg': 'ES256' });
      expect(spans.find((s) => s.spanId === issue!.parentSpanId)?.name).toBe('POST /v1/tokens');
      const sign = spans.find((s) => s.parentSpanId === issue!.spanId);
      expect(sign?.name).toBe('signet.backend.sign');
      expect(sign?.attributes).toMatchObject({ 'signet.backend': 'aws-kms', 'signet.batch.size': 1, 'signet.key.version': 1 });
      const kmsCall = spans.find((s) => s.parentSpanId === sign!.spanId);
      expect(kmsCall?.name).toBe('KMS.Sign');
      expect(kmsCall?.kind).toBe(SPAN_KIND.client);
      expect(kmsCall?.attributes).toMatchObject({ 'rpc.system': 'aws-api', 'rpc.service': 'KMS', 'rpc.method': 'Sign', 'cloud.region': MOTO_REGION });
      expect(kmsCall?.attributes['aws.request_id']).toEqual(expect.any(String));
      // The refresh lists aliases and describes keys in its own trace.
      const refresh = spans.find((s) => s.name === 'signet.keys.refresh');
      expect(spans.filter((s) => s.parentSpanId === refresh?.spanId).map((s) => s.name)).toEqual(expect.arrayContaining(['KMS.ListAliases', 'KMS.DescribeKey']));
    } finally {
      await receiver.close();
    }
  });
});
