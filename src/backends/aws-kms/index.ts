// AWS KMS backend: the backend (backend.ts), the SDK calls it makes (api.ts), how failures map to
// error codes (errors.ts), and how versions are named as aliases (naming.ts).
export { AwsKmsBackend, KMS_RAW_MESSAGE_LIMIT, ORPHAN_DELETION_DAYS, type AwsKmsOptions } from './backend.js';
export { createKmsApi, sdkKmsApi, type KmsApi } from './api.js';
export { kmsError } from './errors.js';
export { ringAlias, versionAlias } from './naming.js';
