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

export type Output<T> = Omit<T, '$metadata'>;

/** The KMS calls this backend makes, and nothing else; the SDK satisfies it via sdkKmsApi, and so can a test fake. */
export interface KmsApi {
  listAliases(input: ListAliasesCommandInput, signal?: AbortSignal): Promise<Output<ListAliasesCommandOutput>>;
  getPublicKey(input: GetPublicKeyCommandInput, signal?: AbortSignal): Promise<Output<GetPublicKeyCommandOutput>>;
  describeKey(input: DescribeKeyCommandInput, signal?: AbortSignal): Promise<Output<DescribeKeyCommandOutput>>;
  sign(input: SignCommandInput, signal?: AbortSignal): Promise<Output<SignCommandOutput>>;
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
    sign: (input, signal) => client.send(new SignCommand(input), { abortSignal: signal }),
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

export function createKmsApi(options: KmsClientOptions): KmsApi {
  // Credentials come from the SDK's default chain (env, shared config, SSO, web identity, ECS, IMDS).
  // 'standard' retries (backoff + retry quota), not 'adaptive': adaptive queues requests inside
  // the SDK when throttled, which is the unbounded wait our pacer exists to refuse.
  return sdkKmsApi(
    new KMSClient({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      maxAttempts: options.maxAttempts,
      retryMode: 'standard',
      // Per attempt; without throwOnRequestTimeout the handler only logs a warning. A sign's
      // attempts together are bounded by the caller's deadline (the AbortSignal).
      requestHandler: { connectionTimeout: options.timeoutMs, requestTimeout: options.timeoutMs, throwOnRequestTimeout: true },
    }),
  );
}
