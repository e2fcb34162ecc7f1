// The KMS calls the backend makes, and nothing else: the SDK satisfies it through sdkKmsApi, and so
// can a test fake. Every call takes an AbortSignal, so one deadline bounds the SDK's attempts and
// the back-off between them together.
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  GetPublicKeyCommand,
  KMSClient,
  ListAliasesCommand,
  ScheduleKeyDeletionCommand,
  SignCommand,
  UpdateAliasCommand,
  type CreateAliasCommandInput,
  type CreateKeyCommandInput,
  type CreateKeyCommandOutput,
  type DescribeKeyCommandInput,
  type DescribeKeyCommandOutput,
  type DisableKeyCommandInput,
  type GetPublicKeyCommandInput,
  type GetPublicKeyCommandOutput,
  type ListAliasesCommandInput,
  type ListAliasesCommandOutput,
  type ScheduleKeyDeletionCommandInput,
  type SignCommandInput,
  type SignCommandOutput,
  type UpdateAliasCommandInput,
} from '@aws-sdk/client-kms';
import { context as otelContext, SpanKind, trace } from '@opentelemetry/api';
import { failSpan, startSpan, tracing } from '../../observability/tracing.js';

export type Output<T> = Omit<T, '$metadata'>;

/** The KMS calls this backend makes, and nothing else; the SDK satisfies it via sdkKmsApi, and so can a test fake. */
export interface KmsApi {
  listAliases(input: ListAliasesCommandInput, signal?: AbortSignal): Promise<Output<ListAliasesCommandOutput>>;
  getPublicKey(input: GetPublicKeyCommandInput, signal?: AbortSignal): Promise<Output<GetPublicKeyCommandOutput>>;
  describeKey(input: DescribeKeyCommandInput, signal?: AbortSignal): Promise<Output<DescribeKeyCommandOutput>>;
  /** `requestId` goes out as X-Request-Id (withRequestId). */
  sign(input: SignCommandInput, signal?: AbortSignal, requestId?: string): Promise<Output<SignCommandOutput>>;
  createKey(input: CreateKeyCommandInput): Promise<Output<CreateKeyCommandOutput>>;
  createAlias(input: CreateAliasCommandInput): Promise<unknown>;
  updateAlias(input: UpdateAliasCommandInput): Promise<unknown>;
  disableKey(input: DisableKeyCommandInput): Promise<unknown>;
  scheduleKeyDeletion(input: ScheduleKeyDeletionCommandInput): Promise<unknown>;
  destroy(): void;
}

export function sdkKmsApi(client: KMSClient): KmsApi {
  return {
    listAliases: (input, signal) => client.send(new ListAliasesCommand(input), { abortSignal: signal }),
    getPublicKey: (input, signal) => client.send(new GetPublicKeyCommand(input), { abortSignal: signal }),
    describeKey: (input, signal) => client.send(new DescribeKeyCommand(input), { abortSignal: signal }),
    sign: (input, signal, requestId) => client.send(withRequestId(new SignCommand(input), requestId), { abortSignal: signal }),
    createKey: (input) => client.send(new CreateKeyCommand(input)),
    createAlias: (input) => client.send(new CreateAliasCommand(input)),
    updateAlias: (input) => client.send(new UpdateAliasCommand(input)),
    disableKey: (input) => client.send(new DisableKeyCommand(input)),
    scheduleKeyDeletion: (input) => client.send(new ScheduleKeyDeletionCommand(input)),
    destroy: () => client.destroy(),
  };
}


export interface KmsClientOptions {
  region: string;
  endpoint?: string;
  maxAttempts: number;
  timeoutMs: number;
}

/**
 * Sends the request id as an `X-Request-Id` header on every attempt (added before SigV4 signs the
 * request). KMS ignores it and CloudTrail does not record it: it is for proxies and VPC endpoint
 * logs in between. What joins a token to CloudTrail is KMS's own request id (CloudTrail's
 * `requestID`), which the KMS span records as `aws.request_id`.
 */
function withRequestId<C extends SignCommand>(command: C, requestId: string | undefined): C {
  if (requestId === undefined) return command;
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> } | undefined;
      if (request?.headers) request.headers['x-request-id'] = requestId;
      return next(args);
    },
    { step: 'build', name: 'signetRequestId' },
  );
  return command;
}

/**
 * A CLIENT span per KMS call (its retries included), named as the AWS SDK instrumentation names
 * them (`KMS.Sign`), inside a trace only. Hand-written: the official AWS SDK instrumentation patches
 * modules as they load, which needs a loader hook at process start; tracing here starts lazily.
 */
function traceKmsCalls(client: KMSClient, region: string): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!tracing.on || !trace.getActiveSpan()) return next(args);
      const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      const span = startSpan(`KMS.${operation}`, { 'rpc.system': 'aws-api', 'rpc.service': 'KMS', 'rpc.method': operation, 'cloud.region': region }, undefined, undefined, SpanKind.CLIENT);
      try {
        const result = await otelContext.with(trace.setSpan(otelContext.active(), span), () => next(args));
        const requestId = (result.output as { $metadata?: { requestId?: string } }).$metadata?.requestId;
        if (requestId) span.setAttribute('aws.request_id', requestId);
        return result;
      } catch (error) {
        failSpan(span, (error as { name?: string }).name ?? 'Error'); // the AWS error name: ThrottlingException, …
        throw error;
      } finally {
        span.end();
      }
    },
    { step: 'initialize', name: 'signetTracing' },
  );
}

export function createKmsApi(options: KmsClientOptions): KmsApi {
  // Credentials come from the SDK's default chain (env, shared config, SSO, web identity, ECS, IMDS).
  // 'standard' retries (backoff + retry quota), not 'adaptive': adaptive queues requests inside
  // the SDK when throttled, which is the unbounded wait our pacer exists to refuse.
  const client = new KMSClient({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    maxAttempts: options.maxAttempts,
    retryMode: 'standard',
    // Per attempt; without throwOnRequestTimeout the handler only logs a warning. A sign's
    // attempts together are bounded by the caller's deadline (the AbortSignal).
    requestHandler: { connectionTimeout: options.timeoutMs, requestTimeout: options.timeoutMs, throwOnRequestTimeout: true },
  });
  traceKmsCalls(client, options.region);
  return sdkKmsApi(client);
}
