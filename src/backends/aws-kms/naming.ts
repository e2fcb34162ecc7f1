// How a ring's versions are named in KMS: alias/<key>/v<N> per version, alias/<key> for the one
// that signs. The alias list is the whole state, so any replica rebuilds the versions from it.
import type { AliasListEntry } from '@aws-sdk/client-kms';
import { InvalidRequestError } from '../../errors.js';
import type { KeyRef } from '../backend.js';

// KMS alias names allow [A-Za-z0-9/_-]; alias/aws/* is reserved for AWS-managed keys.
const KEY_NAME = /^[A-Za-z0-9/_-]+$/;
// N of alias/<key>/v<N>: no leading zero, so each version has exactly one alias.
const VERSION_SUFFIX = /^[1-9][0-9]{0,8}$/;

/** alias/<key>: the version that signs now. */
export function ringAlias(ref: KeyRef): string {
  if (!KEY_NAME.test(ref.key) || ref.key === 'aws' || ref.key.startsWith('aws/') || ref.key.length > 240) {
    throw new InvalidRequestError(`ring "${ref.ring}": "${ref.key}" cannot name a KMS alias (use A-Z a-z 0-9 / _ -; alias/aws/* is reserved)`);
  }
  return `alias/${ref.key}`;
}

/** alias/<key>/v<N>: one version. */
export function versionAlias(ref: KeyRef, version: number): string {
  return `${ringAlias(ref)}/v${version}`;
}

/** The ring's versions (N → KeyId, ascending) and where alias/<key> points, from an alias listing. */
export function ringVersions(ref: KeyRef, aliases: readonly AliasListEntry[]): { ids: Map<number, string>; signingTarget?: string } {
  const alias = ringAlias(ref);
  const prefix = `${alias}/v`;
  const found: Array<[number, string]> = [];
  for (const entry of aliases) {
    const name = entry.AliasName;
    if (!name?.startsWith(prefix) || !entry.TargetKeyId) continue;
    const suffix = name.slice(prefix.length);
    if (!VERSION_SUFFIX.test(suffix)) continue; // not ours: alias/<key>/vfoo, alias/<key>/v01
    found.push([Number(suffix), entry.TargetKeyId]);
  }
  return { ids: new Map(found.sort(([a], [b]) => a - b)), signingTarget: aliases.find((entry) => entry.AliasName === alias)?.TargetKeyId };
}
